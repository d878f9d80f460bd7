//! `k9-loadbench`: drives an in-process `k9 serve` over loopback HTTP at a fixed concurrency
//! and reports throughput and latency percentiles for three request kinds in one run:
//! `GET /health` (the unauthenticated baseline), a signed `GET` of an execution, and signed
//! trigger `POST`s (each to a different account, so every one is a durable insert, not a
//! coalesced duplicate). Every request is signed by the client as it is sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use clap::Parser;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use k9_domain::{AccountId, CustomerId, PrincipalArn};
use k9_server::AppState;
use k9_sigv4::{sign_headers_cached, Credentials, HttpRequest, SigningKeyCache, SigningParams};
use k9_store::{MasterKey, SqliteStore, Store};
use time::OffsetDateTime;

/// glibc's malloc is a measurable share of a signed request's cost once several threads
/// allocate at once (arena contention, `malloc_consolidate`); mimalloc is not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Load benchmark for k9 serve.
#[derive(Debug, Parser)]
struct Args {
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds per scenario, in all.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Each scenario's measured time is cut into slices this long. The read scenarios'
    /// slices alternate (health, get, get, health, health, ...), so that both see the same
    /// machine: on a shared machine, load from elsewhere comes and goes within seconds.
    /// The signed GET / health ratio is the median of the ratios of adjacent slices. The
    /// trigger's slices come after all of them (see `main`).
    #[arg(long, default_value_t = 500)]
    slice_ms: u64,
    /// Warm-up at the start of every slice, not measured: the requests of the scenario
    /// before drain and this one's fill the pipeline.
    #[arg(long, default_value_t = 100)]
    warmup_ms: u64,
    /// Measured seconds of trigger POSTs, in all.
    #[arg(long, default_value_t = 6)]
    trigger_seconds: u64,
    /// Which scenarios to run; the ratio needs health and get.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "health,get,trigger"
    )]
    scenarios: Vec<Scenario>,
    /// Server worker threads.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
}

/// A request kind the benchmark can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    /// `GET /health`, unauthenticated: the baseline.
    Health,
    /// A signed `GET` of one execution.
    Get,
    /// Signed trigger `POST`s, each queuing a new execution.
    Trigger,
}

const CUSTOMER: &str = "C123456";
const HEALTH: &str = "GET /health (unauthenticated)";
const SIGNED_GET: &str = "signed GET execution";
const TRIGGER: &str = "signed POST trigger (new execution each)";

struct Stats {
    name: &'static str,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
    /// CPU time this process's threads spent in the measured window, by thread role.
    cpu: CpuTime,
}

impl Stats {
    /// The figures of `self` and `slice` together (latencies left unsorted).
    fn add(&mut self, slice: Stats) {
        self.requests += slice.requests;
        self.errors += slice.errors;
        self.elapsed += slice.elapsed;
        self.latencies_us.extend(slice.latencies_us);
        self.cpu = CpuTime {
            client: self.cpu.client + slice.cpu.client,
            server: self.cpu.server + slice.cpu.server,
            other: self.cpu.other + slice.cpu.other,
        };
    }
}

/// CPU time by thread role, from `/proc/self/task/*/stat`, in clock ticks.
#[derive(Debug, Default, Clone, Copy)]
struct CpuTime {
    client: u64,
    server: u64,
    other: u64,
}

/// Linux reports thread CPU times in USER_HZ ticks, 100 a second on every architecture
/// k9 builds for.
const TICKS_PER_SECOND: f64 = 100.0;

impl CpuTime {
    /// CPU used by each thread role so far (zero where /proc cannot be read).
    fn now() -> Self {
        let mut total = Self::default();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return total;
        };
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // "tid (comm) state ppid ...": the name may hold spaces, so split at the parens.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = &stat[open + 1..close];
            // After the name: state is field 3; utime and stime are fields 14 and 15.
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            let ticks: u64 = fields
                .get(11..13)
                .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
            match name {
                "client" => total.client += ticks,
                "server" => total.server += ticks,
                _ => total.other += ticks,
            }
        }
        total
    }

    fn since(self, earlier: Self) -> Self {
        Self {
            client: self.client.saturating_sub(earlier.client),
            server: self.server.saturating_sub(earlier.server),
            other: self.other.saturating_sub(earlier.other),
        }
    }

    /// Microseconds of CPU per request: client, server, other (the store's writer thread,
    /// mostly; threads that ended within the window are not counted).
    fn per_request_us(self, requests: usize) -> [f64; 3] {
        let per = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / requests.max(1) as f64;
        [per(self.client), per(self.server), per(self.other)]
    }
}

impl Stats {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}

impl Target {
    fn url(&self, path: &str) -> Uri {
        format!("{}{path}", self.base).parse().expect("url")
    }
}

/// The load generator's HTTP client: hyper's pooled client (what reqwest wraps), used
/// directly so that the client's own overhead per request stays small and the same for
/// every scenario (reqwest re-parses each URL twice for its redirect support, which costs
/// more for a long signed path than for `/health`).
type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// What one request of a scenario looks like. A fixed target's URL is parsed once, as
/// a client polling one resource would; the trigger's changes with every request.
#[derive(Clone)]
enum Kind {
    Health {
        url: Uri,
    },
    SignedGet {
        path: String,
        url: Uri,
    },
    Trigger {
        accounts: Arc<Vec<String>>,
        next: Arc<AtomicUsize>,
    },
}

struct Target {
    base: String,
    host: String,
    /// `host`, as the header value every request carries.
    host_header: HeaderValue,
    creds: Credentials,
    region: String,
    /// Derived signing keys, as an SDK client signing many requests would keep them (the
    /// signature itself is still computed for every request).
    keys: SigningKeyCache,
}

fn build(target: &Target, kind: &Kind, params: &mut SigningParams) -> Request<Full<Bytes>> {
    match kind {
        Kind::Health { url } => {
            let mut request = Request::new(Full::default());
            *request.uri_mut() = url.clone();
            request
        }
        Kind::SignedGet { path, url } => {
            signed(target, params, Method::GET, path, url.clone(), Vec::new())
        }
        Kind::Trigger { accounts, next } => {
            let account = &accounts[next.fetch_add(1, Ordering::Relaxed) % accounts.len()];
            let path = format!("/customer/{CUSTOMER}/account/{account}/analysis");
            let body =
                format!(r#"{{"customerId":"{CUSTOMER}","accountId":"{account}"}}"#).into_bytes();
            signed(target, params, Method::POST, &path, target.url(&path), body)
        }
    }
}

/// A request signed as an SDK client would: `host` (and `content-type` with a body) signed,
/// `x-amz-date` and `authorization` added.
fn signed(
    target: &Target,
    params: &mut SigningParams,
    method: Method,
    path: &str,
    url: Uri,
    body: Vec<u8>,
) -> Request<Full<Bytes>> {
    let headers: [(&str, &[u8]); 2] = [
        ("host", target.host.as_bytes()),
        ("content-type", b"application/json"),
    ];
    let unsigned = HttpRequest {
        method: method.as_str(),
        path,
        query: "",
        // `content-type` only with a body.
        headers: &headers[..if body.is_empty() { 1 } else { 2 }],
        body: &body,
    };
    params.time = SystemTime::now();
    let signed = sign_headers_cached(&unsigned, &target.creds, params, &target.keys).expect("sign");
    let has_body = !body.is_empty();
    let mut request = Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = method;
    *request.uri_mut() = url;
    let headers = request.headers_mut();
    // hyper's client sends the URI's authority as `host` only when none is set; set the
    // signed value explicitly.
    headers.insert(header::HOST, target.host_header.clone());
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    // The signer's values move into the headers without a copy.
    let value = |text: String| HeaderValue::from_maybe_shared(Bytes::from(text)).expect("value");
    let optional = [
        ("x-amz-content-sha256", signed.content_sha256),
        ("x-amz-security-token", signed.security_token),
    ];
    headers.insert(
        HeaderName::from_static("x-amz-date"),
        value(signed.amz_date),
    );
    for (name, text) in optional {
        if let Some(text) = text {
            headers.insert(HeaderName::from_static(name), value(text));
        }
    }
    headers.insert(header::AUTHORIZATION, value(signed.authorization));
    request
}

/// One slice: `args.concurrency` requests of `kind` in flight for the warm-up and then the
/// measured window; only requests that start and finish within the window count.
async fn run_slice(
    name: &'static str,
    client: &HttpClient,
    target: Arc<Target>,
    kind: Kind,
    args: &Args,
    expected: u16,
) -> Stats {
    let warmup = Duration::from_millis(args.warmup_ms);
    let measure = Duration::from_millis(args.slice_ms);
    let start = Instant::now();
    let window = tokio::spawn(async move {
        tokio::time::sleep_until((start + warmup).into()).await;
        let before = CpuTime::now();
        tokio::time::sleep_until((start + warmup + measure).into()).await;
        CpuTime::now().since(before)
    });
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let client = client.clone();
        let target = target.clone();
        let kind = kind.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(65_536);
            // Kept by the worker, as an SDK client keeps its configuration; only the time
            // changes from one request to the next.
            let mut params = SigningParams::new(&target.region, "execute-api", SystemTime::now());
            let mut errors = 0usize;
            loop {
                let began = Instant::now();
                if began.duration_since(start) >= warmup + measure {
                    break;
                }
                let request = build(&target, &kind, &mut params);
                let ok = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let read = response.into_body().collect().await.is_ok();
                        read && status == expected
                    }
                    Err(_) => false,
                };
                let done = Instant::now();
                if began.duration_since(start) >= warmup
                    && done.duration_since(start) <= warmup + measure
                {
                    if ok {
                        latencies.push(done.duration_since(began).as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await.expect("worker");
        latencies_us.extend(l);
        errors += e;
    }
    Stats {
        name,
        requests: latencies_us.len(),
        errors,
        elapsed: measure,
        latencies_us,
        cpu: window.await.unwrap_or_default(),
    }
}

/// The signed GET / health throughput ratio of each pair of adjacent slices.
fn paired_ratios(health: &[Stats], get: &[Stats]) -> Vec<f64> {
    health
        .iter()
        .zip(get)
        .map(|(health, get)| get.throughput() / health.throughput())
        .collect()
}

/// Slices that make up `seconds` of measurement (at least one).
fn slice_count(args: &Args, seconds: u64) -> u64 {
    (seconds * 1000).div_ceil(args.slice_ms.max(1)).max(1)
}

/// The value at quantile `q` of `sorted`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.server_threads)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("runtime");
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("runtime");

    let store = Arc::new(
        SqliteStore::open(
            dir.path(),
            MasterKey::load_or_create(dir.path()).expect("key"),
        )
        .expect("store"),
    );
    // Every trigger needs an account without a queued execution (else it coalesces): enough
    // for the trigger slices, warm-ups included, at up to 40,000 a second.
    let trigger_slices = slice_count(&args, args.trigger_seconds);
    let trigger_ms = trigger_slices * (args.slice_ms + args.warmup_ms);
    let account_count = (40 * trigger_ms) as usize + 1;
    let (creds, accounts, execution_path) = server_runtime.block_on(async {
        let now = OffsetDateTime::now_utc();
        let customer = CustomerId::parse(CUSTOMER).expect("customer");
        store
            .create_customer(&customer, None, now)
            .await
            .expect("customer");
        let accounts: Vec<String> = (0..account_count)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i as u64))
            .collect();
        let adds = accounts.iter().map(|a| {
            let store = store.clone();
            let customer = customer.clone();
            let account = AccountId::parse(a).expect("account");
            async move {
                store
                    .add_account(&customer, &account, now)
                    .await
                    .expect("add account")
            }
        });
        futures::future::join_all(adds).await;
        let user = PrincipalArn::parse("arn:aws:iam::123456789012:user/bench").expect("arn");
        let key = store.create_user(&user, now).await.expect("user");
        store.approve(&customer, &user, now).await.expect("approve");
        let first = AccountId::parse(&accounts[0]).expect("account");
        let execution = store
            .enqueue_execution(&customer, &first, &user, now)
            .await
            .expect("enqueue");
        let id = execution.into_execution().execution_id;
        let creds = Credentials::new(
            key.access_key.access_key_id.to_string(),
            key.access_key.secret_access_key.expose(),
            None,
        );
        // Account 0 already has a queued execution; triggers start from account 1.
        (
            creds,
            accounts[1..].to_vec(),
            format!("/customer/{CUSTOMER}/account/{first}/analysis/{id}"),
        )
    });

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = AppState::new(store.clone(), "us-east-1");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_runtime.spawn(k9_server::serve(
        listener,
        None,
        state,
        async {
            let _ = stop_rx.await;
        },
        Duration::from_secs(5),
    ));

    let target = Arc::new(Target {
        base: format!("http://{addr}"),
        host: addr.to_string(),
        host_header: HeaderValue::from_str(&addr.to_string()).expect("host"),
        creds,
        region: "us-east-1".into(),
        keys: SigningKeyCache::new(4),
    });
    let results = client_runtime.block_on(async {
        let client: HttpClient =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(args.concurrency)
                .build_http();
        // Triggers use fresh accounts across all rounds.
        let trigger_kind = Kind::Trigger {
            accounts: Arc::new(accounts.clone()),
            next: Arc::new(AtomicUsize::new(0)),
        };
        // The read scenarios' slices come first, alternating (A B B A A B ...), so that a
        // drift in the machine's load favours neither. The trigger's slices come after them
        // all: its commits leave the kernel writing dirty pages back for a while, which
        // would slow whichever read scenario ran next.
        let (writes, reads): (Vec<usize>, Vec<usize>) =
            (0..args.scenarios.len()).partition(|&i| args.scenarios[i] == Scenario::Trigger);
        let slices = slice_count(&args, args.seconds);
        let trigger_slices = slice_count(&args, args.trigger_seconds);
        let schedule = (0..slices)
            .flat_map(|slice| {
                let mut order = reads.clone();
                if slice % 2 == 1 {
                    order.reverse();
                }
                order
            })
            .chain((0..trigger_slices).flat_map(|_| writes.clone()));
        let mut by_scenario: Vec<Vec<Stats>> = args.scenarios.iter().map(|_| Vec::new()).collect();
        for index in schedule.collect::<Vec<_>>() {
            let (name, kind, expected) = match args.scenarios[index] {
                Scenario::Health => (
                    HEALTH,
                    Kind::Health {
                        url: target.url("/health"),
                    },
                    200,
                ),
                Scenario::Get => (
                    SIGNED_GET,
                    Kind::SignedGet {
                        path: execution_path.clone(),
                        url: target.url(&execution_path),
                    },
                    200,
                ),
                Scenario::Trigger => (TRIGGER, trigger_kind.clone(), 202),
            };
            let stats = run_slice(name, &client, target.clone(), kind, &args, expected).await;
            by_scenario[index].push(stats);
        }
        let slices_of = |wanted: Scenario| {
            args.scenarios
                .iter()
                .position(|s| *s == wanted)
                .map(|i| &by_scenario[i][..])
                .unwrap_or(&[])
        };
        let ratios = paired_ratios(slices_of(Scenario::Health), slices_of(Scenario::Get));
        let totals: Vec<Stats> = by_scenario
            .into_iter()
            .filter_map(|slices| {
                let mut slices = slices.into_iter();
                let mut total = slices.next()?;
                for slice in slices {
                    total.add(slice);
                }
                total.latencies_us.sort_unstable();
                Some(total)
            })
            .collect();
        (totals, ratios)
    });
    let (results, mut ratios) = results;
    let _ = stop_tx.send(());
    let _ = server_runtime.block_on(server);

    println!(
        "k9 load benchmark: {} concurrent, {} s per read scenario and {} s of triggers, in slices of {} ms (after {} ms of warm-up each), health and get alternating; server threads {}, {} cores",
        args.concurrency,
        args.seconds,
        args.trigger_seconds,
        args.slice_ms,
        args.warmup_ms,
        args.server_threads,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<42} {:>10} {:>8} {:>9} {:>9} {:>9}  CPU µs/req client+server+other",
        "scenario", "req/s", "errors", "p50 ms", "p99 ms", "max ms",
    );
    for s in &results {
        let [client, server, other] = s.cpu.per_request_us(s.requests);
        println!(
            "{:<42} {:>10.0} {:>8} {:>9.2} {:>9.2} {:>9.2}  {client:.1}+{server:.1}+{other:.1} = {:.1}",
            s.name,
            s.throughput(),
            s.errors,
            s.percentile(0.50),
            s.percentile(0.99),
            s.latencies_us
                .last()
                .map_or(f64::NAN, |v| *v as f64 / 1000.0),
            client + server + other,
        );
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = quantile(&ratios, 0.5);
    if ratio.is_finite() {
        println!(
            "signed GET / health throughput: {:.0} % (target >= 70 %): median of {} pairs of adjacent slices; quartiles {:.0} % and {:.0} %",
            ratio * 100.0,
            ratios.len(),
            quantile(&ratios, 0.25) * 100.0,
            quantile(&ratios, 0.75) * 100.0,
        );
    }
    let find = |name: &str| results.iter().find(|s| s.name == name);
    if let Some(trigger) = find(TRIGGER) {
        println!(
            "trigger: {:.0}/s (target >= 5000/s), p99 {:.2} ms (target <= 20 ms)",
            trigger.throughput(),
            trigger.percentile(0.99)
        );
    }
    let json = serde_json::json!({
        "scenarios": results.iter().map(|s| serde_json::json!({"name": s.name, "rps": s.throughput(), "errors": s.errors, "p50_ms": s.percentile(0.5), "p99_ms": s.percentile(0.99)})).collect::<Vec<_>>(),
        "signed_get_vs_health": ratio,
    });
    eprintln!("{json}");
}
