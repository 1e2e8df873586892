use super::*;

fn self_signed_pem() -> String {
    rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .unwrap()
        .cert
        .pem()
}

#[test]
fn a_pem_bundle_adds_every_certificate_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.pem");
    let text = format!(
        "# comments and other blocks are skipped\n{}\n{}",
        self_signed_pem(),
        self_signed_pem()
    );
    std::fs::write(&bundle, text).unwrap();
    assert_eq!(load_pem_bundle(&bundle).unwrap().len(), 2);

    let base = root_store(None).len();
    assert_eq!(root_store(Some(&bundle)).len(), base + 2);
}

#[test]
fn an_unusable_bundle_is_an_error_naming_the_file_and_trust_stays_intact() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for path in [&empty, &missing] {
        let err = load_pem_bundle(path).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
    // Mozilla's roots are always there, whatever the bundle and the system store hold.
    assert!(root_store(Some(&missing)).len() >= webpki_roots::TLS_SERVER_ROOTS.len());
}
