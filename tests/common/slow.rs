//! Slow clients: many connections from one address that start a request and never finish
//! it, held open while a test checks that another visitor is still served.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::proxy::connect;

/// What a slow client sends before it stalls.
#[derive(Clone, Copy, Debug)]
pub enum Slowness {
    /// Connects and says nothing.
    Silent,
    /// Sends a request head one byte at a time, never finishing it.
    HeadByteByByte,
    /// Sends a complete head announcing a 100 kB body, then the body one byte at a time.
    BodyByteByByte,
}

/// `n` slow connections of one kind from one address, fed one more byte each half second
/// by a background thread until dropped.
pub struct SlowClients {
    streams: Arc<Mutex<Vec<(Slowness, TcpStream)>>>,
    stop: Arc<AtomicBool>,
    feeder: Option<JoinHandle<()>>,
    /// Connections that could not even be opened.
    pub refused: usize,
}

const SLOW_HEAD: &[u8] = b"POST /f/quote HTTP/1.1\r\nHost: forms.example.com\r\nX-Slow: ";

impl SlowClients {
    pub fn open(kind: Slowness, from: IpAddr, to: SocketAddr, n: usize) -> SlowClients {
        let mut streams = Vec::with_capacity(n);
        let mut refused = 0;
        for _ in 0..n {
            let opened = connect(from, to).and_then(|mut s| {
                match kind {
                    Slowness::Silent => {}
                    Slowness::HeadByteByByte => s.write_all(&SLOW_HEAD[..1])?,
                    Slowness::BodyByteByByte => s.write_all(
                        b"POST /f/quote HTTP/1.1\r\nHost: forms.example.com\r\n\
                          Content-Type: application/x-www-form-urlencoded\r\n\
                          Content-Length: 100000\r\n\r\nm",
                    )?,
                }
                s.set_nonblocking(true)?;
                Ok(s)
            });
            match opened {
                Ok(s) => streams.push((kind, s)),
                Err(_) => refused += 1,
            }
        }
        let streams = Arc::new(Mutex::new(streams));
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = {
            let (streams, stop) = (streams.clone(), stop.clone());
            std::thread::spawn(move || feed(&streams, &stop))
        };
        SlowClients {
            streams,
            stop,
            feeder: Some(feeder),
            refused,
        }
    }

    /// How many of the connections the server (or proxy) has not closed yet.
    pub fn still_open(&self) -> usize {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = [0u8; 512];
        streams
            .iter()
            .filter(|(_, s)| loop {
                match (&*s).read(&mut buf) {
                    Ok(0) => break false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                    Err(_) => break false,
                }
            })
            .count()
    }
}

fn feed(streams: &Mutex<Vec<(Slowness, TcpStream)>>, stop: &AtomicBool) {
    let mut tick = 1;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        let streams = streams.lock().unwrap_or_else(|e| e.into_inner());
        for (kind, stream) in streams.iter() {
            let byte = match kind {
                Slowness::Silent => continue,
                Slowness::HeadByteByByte => SLOW_HEAD.get(tick).copied().unwrap_or(b'a'),
                Slowness::BodyByteByByte => b'a',
            };
            let _ = (&*stream).write(&[byte]);
        }
        tick += 1;
    }
}

impl Drop for SlowClients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(feeder) = self.feeder.take() {
            let _ = feeder.join();
        }
    }
}
