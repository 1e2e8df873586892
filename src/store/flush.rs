//! Group commit: concurrent writers share one fsync. A writer takes a ticket after its write;
//! a flush that starts after the ticket covers it, so a writer who finds its ticket covered
//! when it gets the lock returns without flushing again.

use std::sync::atomic::{AtomicU64, Ordering};

use rocket::tokio::sync::Mutex;

#[derive(Default)]
pub struct Flusher {
    lock: Mutex<()>,
    /// Tickets handed out so far.
    requested: AtomicU64,
    /// Every ticket up to this one is on disk.
    durable: AtomicU64,
}

impl Flusher {
    /// Returns once everything written before the call is on disk.
    pub async fn flush(&self, db: &sled::Db) -> sled::Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = self.lock.lock().await;
        if self.durable.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        let covers = self.requested.load(Ordering::SeqCst);
        db.flush_async().await?;
        self.durable.store(covers, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn concurrent_flushes_share_fsyncs_and_all_return() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let flusher = std::sync::Arc::new(Flusher::default());
        let mut tasks = Vec::new();
        for i in 0..32u32 {
            let (db, flusher) = (db.clone(), flusher.clone());
            tasks.push(rocket::tokio::spawn(async move {
                db.insert(i.to_be_bytes(), &[1]).unwrap();
                flusher.flush(&db).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(flusher.durable.load(Ordering::SeqCst), 32);
        assert_eq!(db.len(), 32);
    }
}
