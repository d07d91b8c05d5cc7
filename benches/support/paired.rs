//! Paired rounds, shared by the benches: on a small machine whose speed drifts, a ratio of two
//! separately timed means carries the drift; a round that times both sides back to back (in
//! alternating order from round to round) shares its moment, and the median of the rounds'
//! ratios is what the benches print.

#![allow(dead_code)]

/// The median and quartiles of the ratios `measured / baseline` over `rounds` rounds, each
/// timing both closures (seconds), the baseline first in even rounds and second in odd ones.
pub fn ratios(
    rounds: usize,
    mut baseline: impl FnMut() -> f64,
    mut measured: impl FnMut() -> f64,
) -> Quartiles {
    let ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            if round % 2 == 0 {
                let b = baseline();
                measured() / b
            } else {
                let m = measured();
                m / baseline()
            }
        })
        .collect();
    quartiles(ratios)
}

/// The median and quartiles of rounds' ratios measured some other way (for example, single
/// calls of both sides interleaved within each round, each side's time summed).
pub fn quartiles(mut ratios: Vec<f64>) -> Quartiles {
    let rounds = ratios.len();
    assert!(rounds > 0, "no rounds");
    ratios.sort_by(f64::total_cmp);
    Quartiles {
        rounds,
        median: ratios[rounds / 2],
        low: ratios[rounds / 4],
        high: ratios[3 * rounds / 4],
    }
}

/// What [`ratios`] found.
pub struct Quartiles {
    pub rounds: usize,
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl std::fmt::Display for Quartiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median of {} paired rounds {:.3} x (quartiles {:.3} x to {:.3} x)",
            self.rounds, self.median, self.low, self.high
        )
    }
}

/// Seconds taken by `times` calls of `f`.
pub fn seconds(times: usize, f: &dyn Fn()) -> f64 {
    let start = std::time::Instant::now();
    for _ in 0..times {
        f();
    }
    start.elapsed().as_secs_f64()
}
