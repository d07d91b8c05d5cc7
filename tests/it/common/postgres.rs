//! A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temp dir, listening on
//! 127.0.0.1 only, stopped and deleted on drop. When the binaries are missing the tests that
//! need it are skipped with a notice, unless `ACCOUNT_UPDATER_REQUIRE_POSTGRES=1` (set by
//! `.ci/run`) turns that into a failure.

use std::path::PathBuf;
use std::process::Command;

pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    as_user: Option<&'static str>,
    pub url: String,
}

fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|p| p.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgCluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Starts a cluster, or returns `None` (after printing why) when PostgreSQL is absent and
    /// not required.
    pub fn start(test: &str) -> Option<PgCluster> {
        let required = std::env::var("ACCOUNT_UPDATER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Some(bin) = find_bin() else {
            assert!(
                !required,
                "PostgreSQL (initdb, pg_ctl) is required but not found"
            );
            eprintln!("SKIPPED {test}: PostgreSQL binaries (initdb, pg_ctl) not found");
            return None;
        };
        // initdb refuses to run as root: run the cluster as the postgres (or nobody) user.
        let as_user = if is_root() {
            Some(
                if Command::new("id")
                    .arg("postgres")
                    .output()
                    .is_ok_and(|o| o.status.success())
                {
                    "postgres"
                } else {
                    "nobody"
                },
            )
        } else {
            None
        };
        let dir =
            std::env::temp_dir().join(format!("au-pg-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(user) = as_user {
            let ok = Command::new("chown").arg(user).arg(&dir).status().unwrap();
            assert!(ok.success());
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cluster = PgCluster {
            dir: dir.clone(),
            bin,
            as_user,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        let data = dir.join("data");
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let options = format!(
            "-p {port} -h 127.0.0.1 -k {} -F -c max_connections=50",
            dir.display()
        );
        let out = cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(cluster)
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
