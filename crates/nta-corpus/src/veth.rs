//! [`Veth`]: a veth pair with one end in a network namespace, for the live-capture tests of
//! both binaries (with [`skip`], re-exported, to say why a test skipped).

pub use crate::skip;
use std::path::Path;
use std::process::Command;

/// Runs a command; its stdout, or why it failed.
pub fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd).args(args).output().map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{cmd} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A veth pair: `host` here, `peer` in the namespace `ns`; both removed on drop.
#[derive(Debug)]
pub struct Veth {
    /// The namespace.
    pub ns: String,
    /// The end captured on.
    pub host: String,
    /// The end in the namespace, replayed into.
    pub peer: String,
}

impl Veth {
    /// A pair named after this process and `tag`, quiet (no IPv6 of its own) and with an MTU
    /// for any frame of the samples; or why not (not root, no `ip`, namespaces refused, no
    /// tcpreplay). `live_built` says whether the binary under test can capture at all.
    pub fn new(tag: &str, live_built: bool) -> Result<Veth, String> {
        if !live_built {
            return Err("built without live capture (test with --features live)".into());
        }
        if run("id", &["-u"]).map(|u| u.trim() == "0") != Ok(true) {
            return Err("not root (capturing and network namespaces need it)".into());
        }
        if run("tcpreplay", &["-V"]).is_err() {
            return Err("tcpreplay is not installed".into());
        }
        let id = format!("{}{tag}", std::process::id() % 100_000);
        let v = Veth { ns: format!("nta{id}"), host: format!("nta{id}a"), peer: format!("nta{id}b") };
        run("ip", &["netns", "add", &v.ns]).map_err(|e| format!("network namespaces unavailable: {e}"))?;
        run("ip", &["link", "add", &v.host, "type", "veth", "peer", "name", &v.peer])?;
        run("ip", &["link", "set", &v.peer, "netns", &v.ns])?;
        let _ = run("sysctl", &["-qw", &format!("net.ipv6.conf.{}.disable_ipv6=1", v.host)]);
        let _ =
            run("ip", &["netns", "exec", &v.ns, "sysctl", "-qw", &format!("net.ipv6.conf.{}.disable_ipv6=1", v.peer)]);
        run("ip", &["link", "set", &v.host, "mtu", "9000", "up"])?;
        run("ip", &["netns", "exec", &v.ns, "ip", "link", "set", &v.peer, "mtu", "9000", "up"])?;
        Ok(v)
    }

    /// Replays `file` into the namespace's end at `pps` packets per second.
    pub fn replay(&self, file: &Path, pps: u32) -> Result<(), String> {
        let file = file.to_str().unwrap_or_default();
        run("ip", &["netns", "exec", &self.ns, "tcpreplay", "-q", "-i", &self.peer, &format!("--pps={pps}"), file])
            .map(drop)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.host]);
        let _ = run("ip", &["netns", "del", &self.ns]);
    }
}
