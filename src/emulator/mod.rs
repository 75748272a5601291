//! `natop emulator`: the Alibaba VPC NAT API (plus STS `GetCallerIdentity`,
//! `AssumeRole` and `AssumeRoleWithOIDC`, RAM policies, and the ECS instance
//! metadata service's role credentials) and the UCloud bandwidth-package API
//! (plus UAccount `GetUserInfo`) on one loopback address, with the services'
//! signatures, asynchronous state machines, rules and error codes, plus admin
//! endpoints for tests.
//!
//! Every API shares the listen address: `/latest/…` is the instance metadata
//! service ([`metadata`]); a request carrying `PublicKey` is a UCloud call;
//! anything else is an Alibaba RPC call, whose `Version` says which product
//! (VPC or STS) answers it. Every answer's `Date` is the emulator's clock.

pub mod admin;
pub mod alibaba;
pub mod clock;
pub mod faults;
pub mod fixture;
pub mod log;
pub mod metadata;
pub mod state;
pub mod ucloud;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::cloud::wire::Params;
use clock::Clock;
use faults::{Fault, FaultConfig};
use fixture::Fixture;
use state::World;

/// How long the asynchronous transitions take (virtual time).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Durations {
    /// Gateway and bandwidth package `Creating` → `Available`.
    pub creating: Duration,
    /// DNAT/SNAT entry `Pending` → `Available` (after a create or a modify).
    pub pending: Duration,
    /// `Deleting` → gone.
    pub deleting: Duration,
    /// Gateway `Modifying` → `Available` (specification change).
    pub modifying: Duration,
    /// Gateway `Converting` → `Available` (Normal → Enhanced).
    pub converting: Duration,
    /// EIP `Associating` → `InUse` and `Unassociating` → `Available`.
    pub associating: Duration,
}

impl Default for Durations {
    /// Close to the real service: about a minute for a gateway, a few
    /// seconds for an entry.
    fn default() -> Self {
        Durations {
            creating: Duration::from_secs(60),
            pending: Duration::from_secs(3),
            deleting: Duration::from_secs(10),
            modifying: Duration::from_secs(30),
            converting: Duration::from_secs(120),
            associating: Duration::from_secs(3),
        }
    }
}

/// Everything the emulator is started with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The resources that exist at start.
    pub fixture: Fixture,
    /// Where state is kept across restarts.
    pub state_file: Option<PathBuf>,
    /// Seed of the fault and id generator.
    pub seed: u64,
    /// Transition durations.
    pub durations: Durations,
    /// Faults at start.
    pub faults: FaultConfig,
    /// Clock speed at start.
    pub speed: f64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            fixture: Fixture::default_fixture(),
            state_file: None,
            seed: 0,
            durations: Durations::default(),
            faults: FaultConfig::default(),
            speed: 1.0,
        }
    }
}

/// The state file format. Files without one (0) keyed accounts by access key:
/// loaded now, their resources would belong to no account, so they are refused.
const STATE_FORMAT: u32 = 2;

/// What is kept in the state file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    #[serde(default)]
    format: u32,
    clock_ms: i64,
    world: World,
}

/// Read a state file, refusing one of another format with what to do.
fn load_state(path: &std::path::Path) -> Result<Saved, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    #[derive(Deserialize)]
    struct Format {
        #[serde(default)]
        format: u32,
    }
    let format = serde_json::from_str::<Format>(&text)
        .map_err(|e| format!("cannot parse {}: {e}", path.display()))?
        .format;
    if format != STATE_FORMAT {
        return Err(format!(
            "{} has state format {format}, this emulator reads format {STATE_FORMAT} \
             (accounts keyed by account id, no longer by access key); delete the file to \
             start from the fixture",
            path.display()
        ));
    }
    serde_json::from_str::<Saved>(&text)
        .map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

/// Mutable state behind one lock.
pub(crate) struct Inner {
    pub(crate) world: World,
    pub(crate) rng: fastrand::Rng,
    pub(crate) faults: FaultConfig,
    pub(crate) fault_rng: fastrand::Rng,
    /// Call counts by action, then outcome (`success` or the error code).
    pub(crate) calls: BTreeMap<String, BTreeMap<String, u64>>,
    /// Nonces seen in the last 15 minutes, by `access key/nonce`.
    pub(crate) nonces: HashMap<String, Instant>,
    /// Every call, in order (`GET /_emulator/log`).
    pub(crate) log: log::CallLog,
    /// Issued STS credentials, by access key id.
    pub(crate) sts: alibaba::sts::Sessions,
    /// Instance metadata session tokens and when they expire (virtual ms).
    pub(crate) metadata_tokens: HashMap<String, i64>,
    /// The access key id of the instance role's current credentials.
    pub(crate) instance_key: Option<String>,
}

/// A running emulator's shared state.
pub struct Emulator {
    pub(crate) config: EmulatorConfig,
    pub(crate) clock: Clock,
    inner: Mutex<Inner>,
}

/// An error answer in the cloud's own format.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Error code (Alibaba `Code`; UCloud RetCode as text).
    pub code: String,
    /// Message.
    pub message: String,
    /// Why RAM refused the call (Alibaba `AccessDeniedDetail`).
    pub access_denied: Option<Box<AccessDeniedDetail>>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            access_denied: None,
        }
    }

    /// The error carrying RAM's `AccessDeniedDetail`.
    pub fn with_access_denied(mut self, detail: AccessDeniedDetail) -> ApiError {
        self.access_denied = Some(Box::new(detail));
        self
    }
}

/// The `AccessDeniedDetail` object the Alibaba gateway adds to an error when
/// RAM refused the call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessDeniedDetail {
    /// The RAM action refused, e.g. `vpc:CreateForwardEntry`.
    pub auth_action: String,
    /// `SubUser` or `AssumedRoleUser`.
    pub auth_principal_type: String,
    /// The account the principal belongs to.
    pub auth_principal_owner_id: String,
    /// The user's name, or `<role>:<session>`.
    pub auth_principal_display_name: String,
    /// Always `AccountLevelIdentityBasedPolicy`.
    pub policy_type: String,
    /// `ImplicitDeny` or `ExplicitDeny`.
    pub no_permission_type: String,
    /// An opaque diagnostic blob (base64).
    pub encoded_diagnostic_message: String,
}

impl Emulator {
    /// Every secret the emulator's STS and instance metadata service handed
    /// out and still knows: access key secrets and security tokens. For
    /// tests that prove none reaches a log, a status, an event or a metric.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.lock()
            .sts
            .values()
            .flat_map(|s| [s.access_key_secret.clone(), s.security_token.clone()])
            .collect()
    }

    /// Build the emulator, restoring the state file when it exists. Fails on
    /// a fixture whose accounts do not check out
    /// ([`Fixture::with_account_ids`]) and on an unreadable state file.
    pub fn new(mut config: EmulatorConfig) -> Result<Arc<Emulator>, String> {
        config.fixture = config.fixture.with_account_ids()?;
        let saved = match &config.state_file {
            Some(path) if path.exists() => Some(load_state(path)?),
            _ => None,
        };
        let (clock, world) = match saved {
            Some(s) => (Clock::starting_at(s.clock_ms, config.speed), s.world),
            None => {
                let clock = Clock::new(config.speed);
                let world = World::from_fixture(&config.fixture, clock.now_ms());
                (clock, world)
            }
        };
        let inner = Inner {
            world,
            rng: fastrand::Rng::with_seed(config.seed),
            faults: config.faults.clone(),
            fault_rng: fastrand::Rng::with_seed(config.seed ^ 0x5eed_fa17),
            calls: BTreeMap::new(),
            nonces: HashMap::new(),
            log: log::CallLog::default(),
            sts: alibaba::sts::Sessions::new(),
            metadata_tokens: HashMap::new(),
            instance_key: None,
        };
        Ok(Arc::new(Emulator {
            config,
            clock,
            inner: Mutex::new(inner),
        }))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write the state file, when one is configured.
    pub(crate) fn save(&self, inner: &Inner) {
        let Some(path) = &self.config.state_file else {
            return;
        };
        let saved = Saved {
            format: STATE_FORMAT,
            clock_ms: self.clock.now_ms(),
            world: inner.world.clone(),
        };
        let result = serde_json::to_vec(&saved)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, bytes)
                    .and_then(|()| std::fs::rename(&tmp, path))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            warn!(path = %path.display(), error = %e, "cannot write the state file");
        }
    }

    /// Count one call (`/_emulator/calls`: by action, with commit-then-drop
    /// counted as the success it was) and log it (`/_emulator/log`).
    pub(crate) fn count(inner: &mut Inner, call: &Logged<'_>, outcome: &str, answer: &Answer) {
        let counted = if call.action.is_empty() {
            "(none)"
        } else {
            call.action
        };
        *inner
            .calls
            .entry(counted.to_string())
            .or_default()
            .entry(outcome.to_string())
            .or_default() += 1;
        let logged = match answer {
            Answer::Dropped => "dropped",
            Answer::NotFoundProxy | Answer::Json(_) => outcome,
        };
        inner
            .log
            .record(call.action, &call.account, call.region, call.params, logged);
    }

    /// Draw the fault for `action`.
    pub(crate) fn draw_fault(inner: &mut Inner, action: &str) -> (Option<Fault>, u64) {
        let rule = inner.faults.rule(action).clone();
        (rule.draw(&mut inner.fault_rng), rule.latency_ms)
    }

    /// Back to the fixture.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.world = World::from_fixture(&self.config.fixture, self.clock.now_ms());
        inner.calls.clear();
        inner.log.clear();
        inner.nonces.clear();
        inner.sts.clear();
        inner.metadata_tokens.clear();
        inner.instance_key = None;
        inner.faults = self.config.faults.clone();
        self.save(&inner);
    }

    /// The router serving both APIs, the instance metadata and the admin
    /// endpoints. Every answer carries the emulator's clock as its `Date`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .nest("/_emulator", admin::router())
            .merge(metadata::router())
            .fallback(api)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                stamp_date,
            ))
            .with_state(self.clone())
    }
}

/// What a call is logged with.
pub(crate) struct Logged<'a> {
    /// The `Action` parameter.
    pub(crate) action: &'a str,
    /// The account id (UCloud: user id), empty before authentication.
    pub(crate) account: String,
    /// The region parameter.
    pub(crate) region: &'a str,
    /// Every parameter of the call.
    pub(crate) params: &'a Params,
}

/// The body nginx answers a path it has no route for with.
pub const NOT_FOUND_PROXY_PAGE: &str = "<html><head><title>404 Not Found</title></head>\
                                        <body><h1>404 Not Found</h1></body></html>";

/// How an API call is answered.
pub(crate) enum Answer {
    /// The service's JSON.
    Json(serde_json::Value),
    /// The service acted, but the connection is cut instead of answering.
    Dropped,
    /// A proxy's bare 404 page, the service never reached.
    NotFoundProxy,
}

/// What an API handler produced.
pub(crate) struct Outcome {
    pub(crate) status: u16,
    pub(crate) answer: Answer,
    pub(crate) latency_ms: u64,
}

async fn api(
    State(emulator): State<Arc<Emulator>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = decode_form(query.as_deref().unwrap_or_default());
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let body_params = if content_type.starts_with("application/json") {
        ucloud::json_body_params(&body)
    } else {
        decode_form(&String::from_utf8_lossy(&body))
    };
    params.extend(body_params);
    let outcome = if params.contains_key("PublicKey") {
        ucloud::handle(&emulator, &params)
    } else {
        alibaba::handle(&emulator, method.as_str(), &params)
    };
    if outcome.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(outcome.latency_ms)).await;
    }
    let body = match outcome.answer {
        Answer::Dropped => return dropped_answer(),
        Answer::NotFoundProxy => {
            return (
                StatusCode::NOT_FOUND,
                [("content-type", "text/html"), ("server", "nginx")],
                NOT_FOUND_PROXY_PAGE,
            )
                .into_response();
        }
        Answer::Json(body) => body,
    };
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Set `Date` to the emulator's clock (RFC 9110 IMF-fixdate), so that
/// clients judging expiry by the service's clock (STS credentials) see the
/// time tests move forward. hyper only adds a `Date` when there is none.
async fn stamp_date(
    State(emulator): State<Arc<Emulator>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let date = clock::http_date(emulator.clock.now_ms());
    if let Ok(value) = axum::http::HeaderValue::from_str(&date) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

/// An answer whose body fails mid-way: the connection is cut and the client
/// never learns the outcome.
fn dropped_answer() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "commit-then-drop fault",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("content-length", "4096")
        .body(Body::from_stream(failing))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn decode_form(text: &str) -> Params {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// A random resource id: `prefix-` and `len` lower-case alphanumerics.
pub(crate) fn new_id(rng: &mut fastrand::Rng, prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..len)
        .map(|_| char::from(ALPHABET[rng.usize(..ALPHABET.len())]))
        .collect();
    format!("{prefix}-{tail}")
}

/// A request id in the service's format.
pub(crate) fn request_id(rng: &mut fastrand::Rng) -> String {
    let hex = |rng: &mut fastrand::Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b"0123456789ABCDEF"[rng.usize(..16)]))
            .collect()
    };
    format!(
        "{}-{}-{}-{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 4),
        hex(rng, 4),
        hex(rng, 12)
    )
}

/// Serve until `shutdown` resolves: http, or https with `tls`. Binds to
/// `listen` (loopback expected) and logs the address and what it serves.
pub async fn serve(
    listen: SocketAddr,
    config: EmulatorConfig,
    tls: Option<&Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let acceptor = tls.map(Tls::acceptor).transpose()?;
    let emulator = Emulator::new(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    info!(
        %addr,
        "natop emulator serving the Alibaba VPC NAT API (RPC, Version 2016-04-28), Alibaba STS \
         (Version 2015-04-01), the ECS instance metadata role credentials (/latest/) and the \
         UCloud bandwidth-package and UAccount APIs (calls with PublicKey) on {scheme}://{addr}/; \
         admin endpoints under /_emulator/"
    );
    println!("natop emulator listening on {scheme}://{addr}/");
    let router = emulator.router();
    match acceptor {
        Some(acceptor) => {
            let stop = tokio_util::sync::CancellationToken::new();
            let stopping = stop.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopping.cancel();
            });
            serve_tls(listener, router, acceptor, stop).await;
            Ok(())
        }
        None => axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| e.to_string()),
    }
}

/// An emulator serving in the background of the current runtime (tests,
/// benchmarks, the demo).
pub struct RunningEmulator {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its shared state.
    pub emulator: Arc<Emulator>,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
    tls: bool,
}

/// A certificate chain and its private key (PEM), for serving https.
#[derive(Clone)]
pub struct Tls {
    /// The server certificate, then any intermediates.
    pub cert_pem: String,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// A TLS acceptor with this certificate (rustls on ring, TLS 1.2 and 1.3).
    fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("TLS certificate: {e}"))?;
        if certs.is_empty() {
            return Err("TLS certificate: no CERTIFICATE block".to_string());
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| format!("TLS key: {e}"))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS: {e}"))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// Serve `router` over TLS on `listener` until `stop`: each connection's
/// peer address is given to the handlers as axum's `ConnectInfo` (the admin
/// endpoints answer loopback peers only).
async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    acceptor: tokio_rustls::TlsAcceptor,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = router
            .clone()
            .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let stop = stop.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                // A client that does not trust the certificate hangs up here.
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                () = stop.cancelled() => {}
                _ = connection => {}
            }
        });
    }
}

impl RunningEmulator {
    /// Start on 127.0.0.1 with a free port, serving https with `tls`.
    pub async fn start_tls(config: EmulatorConfig, tls: &Tls) -> Result<RunningEmulator, String> {
        let acceptor = tls.acceptor()?;
        let emulator = Emulator::new(config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let stop = tokio_util::sync::CancellationToken::new();
        let router = emulator.router();
        let task = tokio::spawn(serve_tls(listener, router, acceptor, stop.clone()));
        Ok(RunningEmulator {
            addr,
            emulator,
            stop,
            task,
            tls: true,
        })
    }

    /// Start on 127.0.0.1 with a free port.
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, String> {
        let emulator = Emulator::new(config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let stop = tokio_util::sync::CancellationToken::new();
        let router = emulator.router();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let shutdown = async move { stopped.cancelled().await };
            if let Err(e) = axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
            {
                warn!(error = %e, "emulator stopped with an error");
            }
        });
        Ok(RunningEmulator {
            addr,
            emulator,
            stop,
            task,
            tls: false,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:4321/` (`https://` with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// Stop serving and wait until the listener is closed.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.abort();
        let _ = self.task.await;
    }
}
