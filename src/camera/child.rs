//! Runs a camera program (`rpicam-vid`, a `pipe:` command) as a child process: its stdout
//! is read by the source, its stderr goes to our log line by line, and when it dies it is
//! started again with backoff while `/health` reports why the camera is down.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::status::SourceStatus;
use crate::sync::LockExt;
use crate::system::sd_notify::SERVICE_ONLY_VARIABLES;

/// Longest wait between two starts.
const MAX_DELAY: Duration = Duration::from_secs(10);
/// Delay of the second restart in a row; it doubles from there.
const FIRST_DELAY: Duration = Duration::from_millis(500);
/// A run at least this long counts as healthy: the next failure restarts at once again.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// Restart delays: at once, then 0.5 s, 1 s, 2 s, ... up to 10 s, back to "at once"
/// after a run of 30 s or more.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The wait before the next start, after a run that lasted `ran_for`.
    pub fn delay_after(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= HEALTHY_RUN {
            self.failures = 0;
        }
        let delay = match self.failures {
            0 => Duration::ZERO,
            n => FIRST_DELAY
                .saturating_mul(1 << (n - 1).min(16))
                .min(MAX_DELAY),
        };
        self.failures = self.failures.saturating_add(1);
        delay
    }
}

/// How one run of the child ended, as the stdout reader saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Stdout closed or failed: the program died (or is about to).
    Failed(String),
    /// The source wants a fresh start with new options (a control changed): no backoff.
    Restart(String),
    /// Picamd is stopping.
    Stopped,
}

/// How long a running program may write nothing before it counts as hung (a camera that
/// went away without the program noticing) and is restarted.
#[derive(Debug, Clone, Copy)]
pub struct SilenceLimits {
    /// From the start to the first output (libcamera start-up takes a second or two).
    pub first_output: Duration,
    /// Between two outputs.
    pub between_outputs: Duration,
}

impl Default for SilenceLimits {
    fn default() -> Self {
        SilenceLimits {
            first_output: Duration::from_secs(10),
            between_outputs: Duration::from_secs(5),
        }
    }
}

/// Starts `command` again and again until `stop`, handing each run's stdout to `read`.
/// `program` names it in logs and on `/health`; `log_target` receives its stderr. Output is
/// what `read` reports to `status`; a run silent beyond `silence` is killed and restarted.
pub fn supervise(
    program: &str,
    log_target: &'static str,
    stop: &AtomicBool,
    status: &SourceStatus,
    silence: SilenceLimits,
    mut command: impl FnMut() -> Command,
    mut read: impl FnMut(&mut ChildStdout) -> RunEnd,
) {
    let mut backoff = Backoff::default();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        // Taken before the program can write, so that its first output counts as one.
        let seen_before_spawn = status.last_output_us();
        let mut cmd = command();
        without_service_variables(&mut cmd);
        // Its own process group, so that a shell's children are stopped with it.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let end = match cmd.spawn() {
            Err(e) => RunEnd::Failed(format!("cannot start {program}: {e}")),
            Ok(mut child) => {
                log::info!("started {program} (pid {})", child.id());
                if let Some(stderr) = child.stderr.take() {
                    forward_stderr(stderr, log_target);
                }
                let pid = child.id();
                let seen_at_start = seen_before_spawn;
                let run_over = AtomicBool::new(false);
                let hung = std::sync::Mutex::new(None);
                let end = thread::scope(|scope| {
                    // Ends a program that hangs without writing, on a stop or when silent.
                    scope.spawn(|| {
                        let mut seen = seen_at_start;
                        let mut since = Instant::now();
                        let mut limit = silence.first_output;
                        while !run_over.load(Ordering::Relaxed) {
                            if stop.load(Ordering::Relaxed) {
                                kill_group(pid);
                                break;
                            }
                            if status.last_output_us() != seen {
                                seen = status.last_output_us();
                                since = Instant::now();
                                limit = silence.between_outputs;
                            }
                            if since.elapsed() > limit {
                                *hung.lock_unpoisoned() = Some(format!(
                                    "{program} wrote nothing for {:.1} s",
                                    limit.as_secs_f64()
                                ));
                                kill_group(pid);
                                break;
                            }
                            thread::sleep(Duration::from_millis(50));
                        }
                    });
                    let end = match child.stdout.as_mut() {
                        Some(stdout) => read(stdout),
                        None => RunEnd::Failed(format!("{program} has no stdout")),
                    };
                    run_over.store(true, Ordering::Relaxed);
                    end
                });
                // Output that ended because we stopped the program is not a failure.
                let hung = hung.into_inner().unwrap_or_else(|e| e.into_inner());
                let end = match hung {
                    _ if stop.load(Ordering::Relaxed) => RunEnd::Stopped,
                    Some(why) => RunEnd::Failed(why),
                    None => end,
                };
                let exit = kill_and_wait(&mut child);
                match end {
                    RunEnd::Failed(why) => RunEnd::Failed(format!("{why} ({program} {exit})")),
                    other => other,
                }
            }
        };
        let delay = match &end {
            RunEnd::Stopped => break,
            RunEnd::Restart(why) => {
                log::info!("restarting {program}: {why}");
                Duration::ZERO
            }
            RunEnd::Failed(why) => {
                let delay = backoff.delay_after(started.elapsed());
                let reason = format!("{why}; restarting in {:.1} s", delay.as_secs_f64());
                log::warn!("camera source down: {reason}");
                status.set_down(&reason);
                delay
            }
        };
        sleep_unless_stopped(delay, stop);
    }
}

fn forward_stderr(stderr: impl Read + Send + 'static, target: &'static str) {
    // Detached: a grandchild may keep the pipe open after the child is gone.
    let _ = thread::Builder::new()
        .name("camera-stderr".into())
        .spawn(move || {
            for line in BufReader::new(stderr).lines() {
                match line {
                    Ok(line) if line.trim().is_empty() => {}
                    Ok(line) => log::info!(target: target, "{}", line.trim_end()),
                    Err(_) => break,
                }
            }
        });
}

/// Stops the child's whole process group and reaps the child; describes how it ended.
fn kill_and_wait(child: &mut Child) -> String {
    if let Ok(Some(status)) = child.try_wait() {
        kill_group(child.id());
        return describe_exit(status);
    }
    // Give a program that is exiting on its own a moment, so its status is the real one.
    thread::sleep(Duration::from_millis(20));
    if let Ok(Some(status)) = child.try_wait() {
        kill_group(child.id());
        return describe_exit(status);
    }
    kill_group(child.id());
    match child.wait() {
        Ok(_) => "was stopped".into(),
        Err(e) => format!("could not be reaped: {e}"),
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; a stale group is ESRCH.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended: {status}"),
    }
}

fn sleep_unless_stopped(delay: Duration, stop: &AtomicBool) {
    let until = Instant::now() + delay;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            break;
        }
        thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// Reads exactly `buf.len()` bytes: `Ok(false)` on a clean end before the first byte, an
/// error naming the shortfall when the stream ends mid-way.
/// Keeps what systemd passes to picamd alone (the notify socket, the watchdog, the listening
/// socket) from a child's environment.
pub fn without_service_variables(cmd: &mut Command) {
    for name in SERVICE_ONLY_VARIABLES {
        cmd.env_remove(name);
    }
}

pub fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("stream ended mid-frame ({filled} of {} bytes)", buf.len()),
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn backoff_restarts_at_once_then_doubles_to_ten_seconds() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(100);
        let delays: Vec<f64> = (0..8).map(|_| b.delay_after(quick).as_secs_f64()).collect();
        assert_eq!(delays, [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]);
        assert_eq!(
            b.delay_after(HEALTHY_RUN),
            Duration::ZERO,
            "a long run resets"
        );
        assert_eq!(b.delay_after(quick), FIRST_DELAY);
    }

    #[test]
    fn read_full_tells_a_clean_end_from_a_torn_frame() {
        let mut buf = [0u8; 4];
        let mut r: &[u8] = &[1, 2, 3, 4, 5, 6];
        assert!(read_full(&mut r, &mut buf).unwrap());
        assert_eq!(buf, [1, 2, 3, 4]);
        let err = read_full(&mut r, &mut buf).unwrap_err();
        assert!(err.to_string().contains("2 of 4 bytes"), "{err}");
        assert!(!read_full(&mut r, &mut buf).unwrap());
    }

    #[test]
    fn restarts_a_dying_program_and_reports_it_down() {
        let stop = Arc::new(AtomicBool::new(false));
        let status = SourceStatus::default();
        let mut runs = 0;
        let started = Instant::now();
        supervise(
            "sh",
            "picamd::test",
            &stop,
            &status,
            SilenceLimits::default(),
            || {
                let mut c = Command::new("sh");
                c.args(["-c", "echo hello; echo oops >&2; exit 3"]);
                c
            },
            |stdout| {
                runs += 1;
                let mut text = String::new();
                let _ = stdout.read_to_string(&mut text);
                assert_eq!(text, "hello\n");
                status.mark_output(1);
                if runs == 3 {
                    stop.store(true, Ordering::Relaxed);
                    return RunEnd::Stopped;
                }
                RunEnd::Failed("end of output".into())
            },
        );
        assert_eq!(runs, 3);
        // Restarts at once, then after 0.5 s.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(500) && took < Duration::from_secs(3),
            "{took:?}"
        );
        status.set_down("x");
        assert!(status.down_reason().is_some());
    }

    #[test]
    fn a_stop_ends_a_program_that_writes_nothing() {
        let stop = Arc::new(AtomicBool::new(false));
        let status = SourceStatus::default();
        let stopper = Arc::clone(&stop);
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            stopper.store(true, Ordering::Relaxed);
        });
        let started = Instant::now();
        supervise(
            "sleep",
            "picamd::test",
            &stop,
            &status,
            SilenceLimits::default(),
            || {
                let mut c = Command::new("sleep");
                c.arg("30");
                c
            },
            |stdout| {
                let n = stdout.read(&mut [0u8; 16]);
                RunEnd::Failed(format!("read {n:?}"))
            },
        );
        t.join().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(status.down_reason(), None);
    }

    #[test]
    fn a_silent_program_is_restarted() {
        let stop = AtomicBool::new(false);
        let status = SourceStatus::default();
        let mut starts = 0;
        let started = Instant::now();
        supervise(
            "sleep",
            "picamd::test",
            &stop,
            &status,
            SilenceLimits {
                first_output: Duration::from_secs(3),
                between_outputs: Duration::from_millis(200),
            },
            || {
                starts += 1;
                let script = if starts == 1 {
                    "echo frame; exec sleep 30"
                } else {
                    stop.store(true, Ordering::Relaxed);
                    "exec sleep 30"
                };
                let mut c = Command::new("sh");
                c.args(["-c", script]);
                c
            },
            |stdout| {
                let mut line = [0u8; 6];
                if stdout.read_exact(&mut line).is_ok() {
                    status.mark_output(crate::clock::unix_us());
                }
                let more = stdout.read(&mut [0u8; 1]);
                RunEnd::Failed(format!("read {more:?}"))
            },
        );
        let reason = status.down_reason().unwrap();
        assert!(
            reason.starts_with("sleep wrote nothing for 0.2 s (sleep was killed by signal 9)"),
            "{reason}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn failure_reason_names_the_exit_status() {
        let stop = AtomicBool::new(false);
        let status = SourceStatus::default();
        let mut starts = 0;
        supervise(
            "false",
            "picamd::test",
            &stop,
            &status,
            SilenceLimits::default(),
            || {
                starts += 1;
                // Stop during the second run: the first run's failure stays the reason.
                if starts == 2 {
                    stop.store(true, Ordering::Relaxed);
                }
                let mut c = Command::new("sh");
                c.args(["-c", "exit 7"]);
                c
            },
            |stdout| {
                let _ = stdout.read_to_end(&mut Vec::new());
                RunEnd::Failed("end of output".into())
            },
        );
        assert_eq!(starts, 2);
        let reason = status.down_reason().unwrap();
        assert!(
            reason.starts_with("end of output (false exited with status 7); restarting in 0.0 s"),
            "{reason}"
        );
    }
}
