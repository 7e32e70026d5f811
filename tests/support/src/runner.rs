//! Runs a binary (the plugin, the webhook) as a user would and captures what it said.
//!
//! The path comes from the caller: Cargo sets `CARGO_BIN_EXE_<name>` only for the integration tests
//! of the package that owns the binary, so `Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))`.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A run that takes longer is killed and fails its test: a hang must not hang the suite. Generous,
/// for the real tier's rollouts on two shared cores; `time_limit` sets another.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// A binary with the words and environment every run of a test shares.
#[derive(Clone, Debug)]
pub struct Runner {
    program: PathBuf,
    leading: Vec<OsString>,
    trailing: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    limit: Duration,
}

/// What a run said: exit code (-1 when killed by a signal), stdout and stderr.
#[derive(Clone, Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Runner {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            leading: Vec::new(),
            trailing: Vec::new(),
            env: Vec::new(),
            limit: RUN_LIMIT,
        }
    }

    /// Kills a run that takes longer than `limit`, failing its test.
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// Words before each run's own (a subcommand every run shares).
    pub fn leading<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, words: I) -> Self {
        self.leading
            .extend(words.into_iter().map(|w| w.as_ref().to_owned()));
        self
    }

    /// Words after each run's own (flags every run shares, such as `--es-url`).
    pub fn trailing<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, words: I) -> Self {
        self.trailing
            .extend(words.into_iter().map(|w| w.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// The variable is unset for the run, whatever the test's own environment holds.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Runs with `args` between the leading and trailing words, stdin empty.
    #[track_caller]
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        self.run_with_stdin(args, &[])
    }

    /// As `run`, with `stdin` written to the binary (from a thread, so a large input cannot
    /// deadlock against a full stdout pipe).
    #[track_caller]
    pub fn run_with_stdin<S: AsRef<OsStr>>(&self, args: &[S], stdin: &[u8]) -> Run {
        let mut command = Command::new(&self.program);
        command
            .args(&self.leading)
            .args(args)
            .args(&self.trailing)
            .stdin(if stdin.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            match value {
                Some(v) => command.env(key, v),
                None => command.env_remove(key),
            };
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", self.program.display()));
        let writer = child.stdin.take().map(|mut pipe| {
            let input = stdin.to_vec();
            std::thread::spawn(move || {
                // The binary may exit without reading it all; that is its answer, not ours.
                let _ = pipe.write_all(&input);
            })
        });
        let (status, stdout, stderr) = bounded(&mut child, &self.program, self.limit);
        if let Some(w) = writer {
            w.join().expect("the stdin writer panicked");
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}

/// Waits for `child`, draining its pipes on threads; kills it after `limit` and panics.
fn bounded(
    child: &mut Child,
    program: &std::path::Path,
    limit: Duration,
) -> (ExitStatus, String, String) {
    let started = Instant::now();
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    loop {
        let waited = child
            .try_wait()
            .unwrap_or_else(|e| panic!("failed to wait for {}: {e}", program.display()));
        if let Some(status) = waited {
            let text = |t: JoinHandle<Vec<u8>>| {
                String::from_utf8_lossy(&t.join().unwrap_or_default()).into_owned()
            };
            return (status, text(out), text(err));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} ran longer than {limit:?}", program.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert_has("stderr", &self.stderr, text);
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert_has("stdout", &self.stdout, text);
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// (code, stdout, stderr), for tests that match on all three.
    pub fn parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }
}

#[track_caller]
fn assert_has(stream: &str, said: &str, text: &str) {
    assert!(said.contains(text), "{stream} lacks {text:?}:\n{said}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_exit_code_output_environment_and_stdin() {
        let run = Runner::new("/bin/sh")
            .leading(["-c"])
            .env("GREETING", "hello")
            .env_remove("HOME")
            .run_with_stdin(
                &["read line; echo \"$GREETING $line ${HOME:-unset}\"; echo oops >&2; exit 3"],
                b"world\n",
            );
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (3, "hello world unset\n", "oops\n")
        );
    }

    #[test]
    #[should_panic(expected = "ran longer than")]
    fn a_run_that_hangs_is_killed_and_fails() {
        Runner::new("/bin/sleep")
            .time_limit(Duration::from_millis(50))
            .run(&["600"]);
    }
}
