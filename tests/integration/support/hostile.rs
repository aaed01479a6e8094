//! A raw TCP server on 127.0.0.1 that misbehaves on purpose: it never
//! answers, streams an endless body, or cuts a JSON answer short.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub enum Misbehaviour {
    /// Accepts the connection and never sends a byte.
    Silent,
    /// Answers 200 with a chunked body of `total` bytes of valid-looking samples.
    Endless { total: u64 },
    /// Announces a JSON body longer than what it sends, then closes.
    TruncatedJson,
}

/// Starts the server; it lives until the test process exits.
pub fn start(kind: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind hostile server");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream, kind));
        }
    });
    url
}

fn serve(mut s: std::net::TcpStream, kind: Misbehaviour) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf);
    match kind {
        Misbehaviour::Silent => std::thread::sleep(Duration::from_secs(60)),
        Misbehaviour::Endless { total } => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            let line = b"http_requests_total{method=\"GET\",route=\"/padding/for/size\"} 1\n";
            let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
            let mut sent = 0u64;
            while sent < total {
                let header = format!("{:x}\r\n", chunk.len());
                if s.write_all(header.as_bytes()).is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return; // the client hung up: exactly what the cap should do
                }
                sent += chunk.len() as u64;
            }
            let _ = s.write_all(b"0\r\n\r\n");
        }
        Misbehaviour::TruncatedJson => {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\":\"o",
            );
        }
    }
}
