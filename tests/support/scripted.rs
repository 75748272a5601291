//! A scripted HTTP server on 127.0.0.1 for client tests: it records every
//! request and answers from a queue of replies (the last reply repeats).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// The raw query string, as sent.
    pub raw_query: String,
    /// Decoded form-body parameters.
    pub form: BTreeMap<String, String>,
    pub content_type: String,
    pub at: Instant,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status and JSON body.
    Json(u16, String),
    /// Wait, then answer.
    Slow(Duration, u16, String),
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    seen: Vec<Recorded>,
}

/// The running server.
pub struct ScriptedServer {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedServer {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            seen: Vec::new(),
        }));
        let app = Router::new().fallback(answer).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ScriptedServer { addr, script, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().seen.clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn decode(text: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let raw = raw.unwrap_or_default();
    let reply = {
        let mut s = script.lock().unwrap();
        s.seen.push(Recorded {
            method,
            query: decode(&raw),
            raw_query: raw,
            form: decode(&String::from_utf8_lossy(&body)),
            content_type: headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            at: Instant::now(),
        });
        if s.replies.len() > 1 {
            s.replies.pop_front().unwrap()
        } else {
            s.replies.front().cloned().unwrap()
        }
    };
    let (status, body) = match reply {
        Reply::Json(status, body) => (status, body),
        Reply::Slow(wait, status, body) => {
            tokio::time::sleep(wait).await;
            (status, body)
        }
    };
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

/// A listener that accepts a connection, reads the request, and closes the
/// connection without answering: the client cannot know what happened.
pub async fn start_dropping_server() -> (SocketAddr, Arc<Mutex<u32>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0u32));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            *seen.lock().unwrap() += 1;
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    (addr, count)
}
