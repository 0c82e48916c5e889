//! Runs `plantdb-auth` admin commands on a temporary database directory.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

use crate::server::new_db_dir;
pub use crate::server::USER_PW as PW;

/// Settings the CLI reads from the environment: the tests set their own.
const CLI_ENV: &[&str] = &[
    "ROMI_DB",
    "PLANTDB_STORE",
    "PLANTDB_MIN_PASSWORD_LENGTH",
    "PLANTDB_LOG_LEVEL",
    "JWT_SECRET_KEY",
    "PLANTDB_ADMIN_PASSWORD",
    "PLANTDB_CONFIG",
    "PLANTDB_STATE_DIR",
];

/// What one command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A database directory and the CLI pointed at it.
pub struct Cli {
    dir: TempDir,
}

pub fn bin() -> Command {
    program(env!("CARGO_BIN_EXE_plantdb-auth"))
}

/// `program` without the CLI's settings in its environment, output captured.
pub fn program(path: &str) -> Command {
    let mut cmd = Command::new(path);
    for key in CLI_ENV {
        cmd.env_remove(key);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` with `stdin` (or none: not a terminal either way).
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // The command may exit before reading (a refusal): ignore EPIPE.
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Cli {
    /// A new database with only its `romidb` marker: no accounts yet.
    pub fn new() -> Cli {
        Cli { dir: new_db_dir() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = bin();
        cmd.args(args).arg("--db").arg(self.path());
        cmd
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        // Whatever is piped in (a real password), it is never an argument.
        if let Some(secret) = stdin {
            let secret = secret.trim_end();
            assert!(
                secret.len() < 8 || !args.iter().any(|a| a.contains(secret)),
                "a password in argv: {args:?}"
            );
        }
        run(self.command(args), stdin)
    }

    /// Succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    pub fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let run = self.run(args, stdin);
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        run.stdout
    }

    /// Succeeds with `--json`; returns the parsed answer.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.ok(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// Fails with exit code 1 and `error: ...` mentioning `needle`; returns stderr.
    pub fn fails(&self, args: &[&str], needle: &str) -> String {
        self.fails_with(args, None, needle)
    }

    pub fn fails_with(&self, args: &[&str], stdin: Option<&str>, needle: &str) -> String {
        let run = self.run(args, stdin);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(needle),
            "{args:?}: {needle:?} in {run:?}"
        );
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
        run.stderr
    }

    /// `user add NAME` with [`PW`] on stdin and the given roles.
    pub fn add_user(&self, name: &str, roles: &[&str]) {
        let mut args = vec!["user", "add", name, "--fullname", "Full Name"];
        for role in roles {
            args.extend(["--role", role]);
        }
        args.push("--password-stdin");
        self.ok_with(&args, Some(&format!("{PW}\n")));
    }

    pub fn user(&self, name: &str) -> Value {
        self.json(&["user", "show", name])
    }

    /// The audit log of the database.
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.path().join(".plantdb-auth").join("audit.log"))
            .unwrap_or_default()
    }
}
