//! A tiny HTTP/1.1 server for tests: answers each request with the next canned response
//! (repeating the last one) and records what it was sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What to do with a request.
#[derive(Debug, Clone)]
pub enum Canned {
    /// Answer with this status, extra headers and body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Read the request, then never answer (until the test ends).
    Hang,
}

impl Canned {
    pub fn json(status: u16, body: &str) -> Self {
        Canned::Respond(
            status,
            vec![("x-amzn-RequestId", format!("req-{status}"))],
            body.to_owned(),
        )
    }

    pub fn aws_error(status: u16, error_type: &str, message: &str) -> Self {
        Canned::Respond(
            status,
            vec![
                ("x-amzn-RequestId", "req-err".to_owned()),
                ("x-amzn-ErrorType", error_type.to_owned()),
            ],
            serde_json::json!({ "message": message }).to_string(),
        )
    }
}

pub struct CannedServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub connections: Arc<Mutex<u32>>,
}

impl CannedServer {
    pub async fn start(script: Vec<Canned>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (recorded, counted) = (requests.clone(), connections.clone());
        tokio::spawn(async move {
            let mut served = 0usize;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                *counted.lock().unwrap() += 1;
                let canned = script[served.min(script.len() - 1)].clone();
                served += 1;
                let recorded = recorded.clone();
                tokio::spawn(serve(stream, canned, recorded));
            }
        });
        Self {
            url,
            requests,
            connections,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn connections(&self) -> u32 {
        *self.connections.lock().unwrap()
    }
}

async fn serve(mut stream: TcpStream, canned: Canned, recorded: Arc<Mutex<Vec<Recorded>>>) {
    let Some(request) = read_request(&mut stream).await else {
        // Not HTTP (say, a TLS ClientHello): answer like a plain HTTP server would.
        let _ = stream
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    recorded.lock().unwrap().push(request);
    match canned {
        Canned::Respond(status, headers, body) => {
            let mut response = format!("HTTP/1.1 {status} Canned\r\n");
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ));
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Canned::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if !buffer[0].is_ascii_uppercase() {
            return None;
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?.to_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}

/// A local port with nothing listening on it.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("local addr").port()
}
