//! Work done of the total (photos, channels), for the commands that take a while: a bar on a
//! terminal, a plain line now and then otherwise (a log).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// Work done of the total, and when to say so.
pub struct Progress {
    /// What the plain lines begin with: the command.
    label: &'static str,
    /// What is counted: photos, channels.
    unit: &'static str,
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    start: Instant,
    /// When the last plain line was written: at most one a second, and the last batch's, so a
    /// log of thousands of photos stays readable.
    written: Option<Instant>,
}

impl Progress {
    pub fn new(label: &'static str, unit: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}, {{per_sec}}, {{eta}} left");
            let style = ProgressStyle::with_template(&template).expect("a valid template");
            ProgressBar::new(total).with_style(style)
        });
        Self { label, unit, bar, total, done: 0, start: Instant::now(), written: None }
    }

    pub fn advance(&mut self, photos: u64) {
        self.set(self.done + photos);
    }

    pub fn set(&mut self, done: u64) {
        if done == self.done {
            return;
        }
        self.done = done;
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                let due = self.written.is_none_or(|at| at.elapsed().as_secs_f64() >= 1.0);
                if !due && done < self.total {
                    return;
                }
                self.written = Some(Instant::now());
                let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
                let left = (self.total - done) as f64 / rate.max(1e-9);
                let (label, unit, total) = (self.label, self.unit, self.total);
                eprintln!("{label}: {done}/{total} {unit}, {rate:.1} {unit}/s, {left:.0} s left");
            }
        }
    }

    /// A line on stdout, the bar set aside while it is written.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
