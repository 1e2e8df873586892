//! Whom the Mailtrap client trusts: Mozilla's roots, the system store and an extra PEM
//! bundle (`SSL_CERT_FILE`) for a TLS-inspecting proxy or a loopback fake.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The roots the Mailtrap client trusts: Mozilla's (compiled in, what ureq trusted before),
/// the system store (`/etc/ssl/certs`…, which also honours `SSL_CERT_FILE`/`SSL_CERT_DIR` the
/// OpenSSL way), and every certificate of the `SSL_CERT_FILE` bundle, added rather than
/// replacing: a TLS-inspecting proxy's CA or a loopback fake's self-signed certificate.
/// A bundle that cannot be read is logged and skipped; Mailtrap's real roots still work.
pub fn tls_config(extra_bundle: Option<&Path>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(root_store(extra_bundle))
        .with_no_client_auth()
}

fn root_store(extra_bundle: Option<&Path>) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(
        added,
        errors = native.errors.len(),
        "system root certificates"
    );
    if let Some(path) = extra_bundle {
        match load_pem_bundle(path) {
            Ok(certs) => {
                let (added, ignored) = roots.add_parsable_certificates(certs);
                tracing::info!(bundle = %path.display(), added, ignored, "extra root certificates");
            }
            Err(e) => tracing::warn!("SSL_CERT_FILE: {e}"),
        }
    }
    roots
}

/// Every certificate of a PEM bundle; an error if it cannot be read or holds none.
pub fn load_pem_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(&e))?;
    if certs.is_empty() {
        return Err(fail(&"no PEM certificate in the file"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests;
