//! `export`, `backup` and `restore`: the commands that open the store while the server is
//! stopped.

use super::*;

/// `kipekee export`: CSV or JSON on stdout; a reader that stops early is not an error.
pub(super) fn export(
    form: Option<&str>,
    format: Format,
    include_test: bool,
) -> Result<(), CliError> {
    let app = AppConfig::from_figment(&config::figment())?;
    let filter = crate::store::SubmissionFilter {
        form: form.map(str::to_string),
        test: include_test,
        ..Default::default()
    };
    with_existing_store(&app, |store| {
        let out = BufWriter::new(std::io::stdout().lock());
        let written = match format {
            Format::Csv => export::csv(&store, &app.forms, &filter, &app.timezone, out),
            Format::Json => export::json(&store, &app.forms, &filter, out),
        };
        match written {
            Err(e) if e.is_broken_pipe() => Ok(()),
            other => Ok(other?),
        }
    })
}

/// `kipekee backup FILE`: written beside FILE, synced, then renamed over it, so a failed
/// backup never replaces a good one. Created readable by its owner only: it holds visitors'
/// data and the generated secrets.
pub(super) fn backup(file: &Path) -> Result<(), CliError> {
    let app = AppConfig::from_figment(&config::figment())?;
    with_existing_store(&app, |store| {
        if file == Path::new("-") {
            let stats = store.backup_to(BufWriter::new(std::io::stdout().lock()))?;
            eprintln!("backed up {}", summary(&stats));
            return Ok(());
        }
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        let partial = file.with_file_name(format!(".{}.partial", name.unwrap_or_default()));
        let written = write_backup(&store, &partial).and_then(|stats| {
            std::fs::rename(&partial, file).map_err(file_error(file))?;
            Ok(stats)
        });
        match written {
            Ok(stats) => {
                println!("backed up {} to {}", summary(&stats), file.display());
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    })
}

pub(super) fn write_backup(store: &Store, path: &Path) -> Result<BackupStats, CliError> {
    // A mode applies only to a file being created: a stale partial (any mode, any owner
    // who could write the directory) is removed, never reused.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(file_error(path)(e)),
        _ => {}
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(file_error(path))?;
    let stats = store.backup_to(BufWriter::new(&file))?;
    file.sync_all().map_err(file_error(path))?;
    Ok(stats)
}

/// `kipekee restore FILE`: the store is opened first (held by the server: one line), and the
/// file is read through once, every record decoded, before the store is touched. Stdin is
/// first copied to a private temporary file so it can be checked the same way.
pub(super) fn restore(file: &Path, force: bool) -> Result<(), CliError> {
    let app = AppConfig::from_figment(&config::figment())?;
    let dir = &app.data_dir;
    let created = private::create_dir(dir).map_err(file_error(dir))?;
    let spool = if file == Path::new("-") {
        Some(spool_stdin()?)
    } else {
        None
    };
    let source = spool.as_deref().unwrap_or(file);
    let stats = with_store(dir, app.cache_bytes, |store| {
        store.check_restorable(force)?;
        let open = || {
            File::open(source)
                .map(BufReader::new)
                .map_err(file_error(source))
        };
        Store::verify_backup(open()?)?;
        Ok(store.restore_into(open()?, force)?)
    });
    if let Some(spool) = &spool {
        let _ = std::fs::remove_file(spool);
    }
    let stats = stats?;
    if created {
        private::restrict_contents(dir).map_err(file_error(dir))?;
    }
    println!("restored {} into {}", summary(&stats), dir.display());
    Ok(())
}

/// Copies stdin to a new 0600 file in the temporary directory; its path.
pub(super) fn spool_stdin() -> Result<PathBuf, CliError> {
    let path = std::env::temp_dir().join(format!(
        ".kipekee-restore-{}-{:016x}.partial",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let copied = options.open(&path).and_then(|mut out| {
        std::io::copy(&mut std::io::stdin().lock(), &mut out)?;
        out.sync_all()
    });
    match copied {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(file_error(&path)(e))
        }
    }
}

pub(super) fn summary(stats: &BackupStats) -> String {
    format!(
        "{} submission(s), {} file(s), {} delivery attempt(s), {} subscriber(s) \
         ({} entries in {} trees, schema version {})",
        stats.count("submissions"),
        stats.count("files"),
        stats.count("deliveries"),
        stats.count("subscribers"),
        stats.entries(),
        stats.trees.len(),
        stats.schema_version
    )
}
