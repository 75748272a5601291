//! The emulator's clock: wall time, optionally sped up or moved forward, so
//! tests never wait real minutes for a gateway.

use std::sync::Mutex;
use std::time::Instant;

/// Virtual time in Unix milliseconds.
#[derive(Debug)]
pub struct Clock {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    anchor_real: Instant,
    anchor_virtual_ms: i64,
    speed: f64,
}

impl Clock {
    /// A clock at the current wall time, running at `speed` times real time.
    pub fn new(speed: f64) -> Clock {
        Clock::starting_at(wall_ms(), speed)
    }

    /// A clock starting at `virtual_ms` (used when restoring a state file).
    pub fn starting_at(virtual_ms: i64, speed: f64) -> Clock {
        Clock {
            state: Mutex::new(State {
                anchor_real: Instant::now(),
                anchor_virtual_ms: virtual_ms,
                speed: sanitize(speed),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Now, in virtual Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        now_of(&self.lock())
    }

    /// Move the clock forward by `seconds`.
    pub fn advance(&self, seconds: f64) {
        let mut s = self.lock();
        let now = now_of(&s);
        s.anchor_virtual_ms = now + (seconds.max(0.0) * 1000.0) as i64;
        s.anchor_real = Instant::now();
    }

    /// Run `speed` times faster than real time from now on.
    pub fn set_speed(&self, speed: f64) {
        let mut s = self.lock();
        let now = now_of(&s);
        s.anchor_virtual_ms = now;
        s.anchor_real = Instant::now();
        s.speed = sanitize(speed);
    }

    /// The current speed factor.
    pub fn speed(&self) -> f64 {
        self.lock().speed
    }
}

fn sanitize(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

fn now_of(s: &State) -> i64 {
    let elapsed = s.anchor_real.elapsed().as_secs_f64() * 1000.0 * s.speed;
    s.anchor_virtual_ms + elapsed as i64
}

/// Real wall time in Unix milliseconds.
pub fn wall_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// ISO 8601 UTC, second precision, as the Alibaba API writes times.
pub fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// An HTTP `Date` (RFC 9110), as the API gateways stamp every answer.
pub fn http_date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .and_then(|t| {
            jiff::fmt::rfc2822::DateTimePrinter::new()
                .timestamp_to_rfc9110_string(&t)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_and_speed() {
        let c = Clock::starting_at(1_000_000, 1.0);
        let t0 = c.now_ms();
        c.advance(60.0);
        assert!(c.now_ms() - t0 >= 60_000);
        c.set_speed(1000.0);
        let t1 = c.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            c.now_ms() - t1 >= 15_000,
            "1000x: 20 ms real is ~20 s virtual"
        );
        c.set_speed(-3.0);
        assert_eq!(c.speed(), 1.0);
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    }
}
