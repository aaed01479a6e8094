//! Real containers for the Docker probe tests, on the machine's real engine.
//!
//! Images cannot be pulled here, so the image is made with `docker import`
//! from a tarball holding Debian's static busybox. Every container gets a
//! unique name, runs with `--network none` unless a test made a network of
//! its own, and is removed on drop, also when the test fails. No traffic is
//! ever sent to a container's address.

use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Bump the tag when the image's contents change: an existing tag is reused.
pub const IMAGE: &str = "medianest-gate-test/busybox:2";

/// Runs the docker CLI, panicking with its stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("run the docker CLI");
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Fails loudly when the daemon is unreachable: CI must run these tests, not skip them.
pub fn require_daemon() {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the Docker daemon is not reachable (run ./scripts/test, which starts it): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("the docker CLI is missing (run ./scripts/test): {e}"),
    }
}

/// Builds the busybox image once per test run.
pub fn image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        require_daemon();
        if Command::new("docker")
            .args(["image", "inspect", IMAGE])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return;
        }
        let busybox = std::path::Path::new("/bin/busybox");
        assert!(
            busybox.is_file(),
            "/bin/busybox is missing: install Debian's busybox-static (./scripts/test does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("bin")).expect("mkdir");
        std::fs::create_dir_all(root.join("tmp")).expect("mkdir");
        std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
        for tool in [
            "sh", "echo", "sleep", "cat", "true", "false", "dd", "tr", "head", "kill", "yes", "printf", "tail",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(tool)).expect("link");
        }
        let tar = dir.path().join("rootfs.tar");
        let status = Command::new("tar")
            .args(["-C"])
            .arg(&root)
            .args(["-cf"])
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(status.success(), "tar failed");
        let tar_path = tar.to_string_lossy().to_string();
        docker(&["import", "--change", "CMD [\"/bin/sh\"]", &tar_path, IMAGE]);
    });
    IMAGE
}

/// A unique name for this test process: `mng-<pid>-<n>-<label>`.
pub fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "mng-{}-{}-{label}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A container removed on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker run -d --name <unique> --network none <options> IMAGE <cmd>`.
    pub fn run(label: &str, options: &[&str], cmd: &[&str]) -> Container {
        Self::run_on(label, "none", options, cmd)
    }

    /// `docker create`: a container that exists but was never started.
    pub fn create(label: &str, cmd: &[&str]) -> Container {
        let name = unique(label);
        let mut args = vec!["create", "--name", name.as_str(), "--network", "none", image()];
        args.extend_from_slice(cmd);
        docker(&args);
        Container { name }
    }

    pub fn run_on(label: &str, network: &str, options: &[&str], cmd: &[&str]) -> Container {
        let image = image();
        let name = unique(label);
        let mut args = vec!["run", "-d", "--name", name.as_str(), "--network", network];
        args.extend_from_slice(options);
        args.push(image);
        args.extend_from_slice(cmd);
        docker(&args);
        Container { name }
    }

    /// A `docker inspect --format` value.
    pub fn inspect(&self, format: &str) -> String {
        docker(&["inspect", "--format", format, &self.name])
    }

    /// Polls until `cond` holds for the container's state (up to 60 s).
    pub fn wait_until(&self, what: &str, cond: impl Fn(&Container) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond(self) {
            assert!(
                Instant::now() < deadline,
                "container {} never became {what}: {}",
                self.name,
                self.inspect("{{json .State}}")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", "-v", &self.name]).output();
    }
}

/// A user-defined network removed on drop (after its containers).
pub struct Network {
    pub name: String,
}

impl Network {
    pub fn create(label: &str) -> Network {
        let name = unique(label);
        // --internal: the network never routes anywhere off this machine.
        docker(&["network", "create", "--internal", &name]);
        Network { name }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["network", "rm", &self.name]).output();
    }
}

/// A running Grafana container, and Prometheus and backend containers on one network.
pub struct Containers {
    pub grafana: Container,
    pub prometheus: Container,
    pub backend: Container,
    _network: Network,
}

impl Containers {
    pub fn start() -> Containers {
        let network = Network::create("stack");
        Containers {
            grafana: Container::run("grafana", &[], &["sleep", "600"]),
            prometheus: Container::run_on("prometheus", &network.name, &[], &["sleep", "600"]),
            backend: Container::run_on("backend", &network.name, &[], &["sleep", "600"]),
            _network: network,
        }
    }
}
