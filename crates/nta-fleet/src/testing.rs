//! Real servers on loopback for the fleet's tests (feature `test-servers`): a NATS cluster
//! with JetStream ([`NatsCluster`]) and a ClickHouse server ([`ClickHouseServer`]), each on
//! free ports in a directory of its own, stopped and removed on drop. A test whose server
//! is not installed gets `None` and says why it skipped — unless `NTA_REQUIRE_SERVERS` is
//! set (as `.ci/run` sets it), when a missing server fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(0, |a| a.port())
}

/// The peak resident memory of process `pid`, bytes (`VmHWM`; Linux).
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The program `name` in `PATH`, `/usr/sbin` or `/usr/bin`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A server that cannot run: said (the test skips), or a failure where CI requires servers.
#[allow(clippy::panic)]
fn unavailable(why: &str) {
    if std::env::var_os("NTA_REQUIRE_SERVERS").is_some_and(|v| !v.is_empty()) {
        panic!("NTA_REQUIRE_SERVERS is set, but {why}");
    }
    eprintln!("skipped: {why}");
}

fn temp_dir(what: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nta-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn http_ok(url: &str) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(2))).build().into();
    agent.get(url).call().is_ok()
}

fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let began = Instant::now();
    while began.elapsed() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("{what} not ready after {deadline:?}");
    false
}

fn stop(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// One node of a [`NatsCluster`].
#[derive(Debug)]
pub struct NatsNode {
    /// Its server name (`n1`, `n2`, ...).
    pub name: String,
    /// Its client port.
    pub port: u16,
    monitor: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl NatsNode {
    fn spawn(&mut self, program: &Path) -> bool {
        let log = std::fs::File::create(&self.log).ok();
        let child = Command::new(program)
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.as_ref().and_then(|f| f.try_clone().ok()).map_or(Stdio::null(), Stdio::from))
            .stderr(log.map_or(Stdio::null(), Stdio::from))
            .spawn();
        self.child = child.ok();
        self.child.is_some()
    }

    fn healthy(&self) -> bool {
        http_ok(&format!("http://127.0.0.1:{}/healthz", self.monitor))
    }

    /// Whether its process runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// A NATS cluster with JetStream on loopback.
#[derive(Debug)]
pub struct NatsCluster {
    program: PathBuf,
    dir: PathBuf,
    /// The nodes.
    pub nodes: Vec<NatsNode>,
}

impl NatsCluster {
    /// `n` nodes (1: no cluster), started and healthy; `None` (said) when `nats-server` is
    /// not installed or does not start.
    pub fn start(n: usize) -> Option<NatsCluster> {
        let Some(program) = find_program("nats-server") else {
            unavailable("nats-server is not installed (Debian: apt-get install nats-server)");
            return None;
        };
        let dir = temp_dir("nats");
        let ports: Vec<(u16, u16, u16)> = (0..n).map(|_| (free_port(), free_port(), free_port())).collect();
        let mut nodes = Vec::new();
        for (i, (port, cluster, monitor)) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.join(&name);
            let routes: Vec<String> = ports.iter().map(|p| format!("\"nats-route://127.0.0.1:{}\"", p.1)).collect();
            let cluster_block = if n > 1 {
                format!(
                    "cluster {{\n  name: nta-test\n  listen: 127.0.0.1:{cluster}\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                )
            } else {
                String::new()
            };
            let config = format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor}\n\
                 jetstream {{\n  store_dir: \"{}\"\n  max_memory_store: 256MB\n  max_file_store: 2GB\n}}\n{cluster_block}",
                store.display()
            );
            let path = dir.join(format!("{name}.conf"));
            std::fs::write(&path, config).ok()?;
            nodes.push(NatsNode {
                name,
                port: *port,
                monitor: *monitor,
                config: path,
                log: dir.join(format!("n{}.log", i + 1)),
                child: None,
            });
        }
        let mut cluster = NatsCluster { program, dir, nodes };
        for node in &mut cluster.nodes {
            if !node.spawn(&cluster.program) {
                unavailable("nats-server did not start");
                return None;
            }
        }
        let healthy =
            wait_for("the NATS cluster", Duration::from_secs(30), || cluster.nodes.iter().all(NatsNode::healthy));
        if !healthy {
            unavailable(&format!("the NATS cluster did not become healthy:\n{}", cluster.logs()));
        }
        healthy.then_some(cluster)
    }

    /// Every node's address, `nats://127.0.0.1:P1,...`.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    /// Kills the node named `name` (kill -9).
    pub fn kill(&mut self, name: &str) {
        for n in self.nodes.iter_mut().filter(|n| n.name == name) {
            stop(&mut n.child);
        }
    }

    /// Kills every node.
    pub fn kill_all(&mut self) {
        for n in &mut self.nodes {
            stop(&mut n.child);
        }
    }

    /// Starts the nodes that are not running (same ports, same storage) and waits until
    /// they are healthy.
    pub fn restart(&mut self) -> bool {
        let program = self.program.clone();
        for n in self.nodes.iter_mut().filter(|n| !n.running()) {
            n.spawn(&program);
        }
        wait_for("the NATS cluster", Duration::from_secs(30), || self.nodes.iter().all(NatsNode::healthy))
    }

    /// The last lines of every node's log (for a failing test's message).
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(&n.log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!("--- {}\n{}", n.name, tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.kill_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A ClickHouse server on loopback.
#[derive(Debug)]
pub struct ClickHouseServer {
    program: PathBuf,
    dir: PathBuf,
    /// Its HTTP port.
    pub http_port: u16,
    child: Option<Child>,
}

impl ClickHouseServer {
    /// A server started and answering; `None` (said) when `clickhouse-server` is not
    /// installed or does not start.
    pub fn start() -> Option<ClickHouseServer> {
        let Some(program) = find_program("clickhouse-server") else {
            unavailable("clickhouse-server is not installed (Debian: apt-get install clickhouse-server)");
            return None;
        };
        let dir = temp_dir("clickhouse");
        let (http_port, tcp_port) = (free_port(), free_port());
        let d = dir.display();
        let config = format!(
            "<?xml version=\"1.0\"?>\n<yandex>\n\
             <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog></logger>\n\
             <http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port><listen_host>127.0.0.1</listen_host>\n\
             <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/user_files/</user_files_path>\n\
             <format_schema_path>{d}/format_schemas/</format_schema_path>\n\
             <users_config>users.xml</users_config><default_profile>default</default_profile>\n\
             <default_database>default</default_database><mark_cache_size>268435456</mark_cache_size>\n\
             <timezone>UTC</timezone>\n</yandex>\n"
        );
        let users = "<?xml version=\"1.0\"?>\n<yandex>\n\
             <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>\n\
             <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>\
             <profile>default</profile><quota>default</quota></default></users>\n\
             <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>\
             <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>\n\
             </yandex>\n";
        std::fs::write(dir.join("config.xml"), config).ok()?;
        std::fs::write(dir.join("users.xml"), users).ok()?;
        let mut server = ClickHouseServer { program, dir, http_port, child: None };
        if !server.restart() {
            unavailable("clickhouse-server did not start");
            return None;
        }
        Some(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it (kill -9).
    pub fn kill(&mut self) {
        stop(&mut self.child);
    }

    /// Starts it again (same port, same data) and waits until it answers.
    pub fn restart(&mut self) -> bool {
        if self.child.is_none() {
            let log = std::fs::File::create(self.dir.join("stdout.log")).ok();
            self.child = Command::new(&self.program)
                .arg(format!("--config-file={}", self.dir.join("config.xml").display()))
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(log.as_ref().and_then(|f| f.try_clone().ok()).map_or(Stdio::null(), Stdio::from))
                .stderr(log.map_or(Stdio::null(), Stdio::from))
                .spawn()
                .ok();
        }
        let url = format!("{}/?query=SELECT%201", self.url());
        self.child.is_some() && wait_for("ClickHouse", Duration::from_secs(60), || http_ok(&url))
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
