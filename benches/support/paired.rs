//! Paired rounds, shared by the benches: on a small machine whose speed drifts, a ratio of two
//! separately timed means carries the drift; a round that times both sides back to back (in
//! alternating order from round to round) shares its moment, and the median of the rounds'
//! ratios is what the benches print.

#![allow(dead_code)]

/// The median and quartiles of the ratios `measured / baseline` over `rounds` rounds, each
/// timing both closures (seconds), the baseline first in even rounds and second in odd ones.
pub fn ratios(
    rounds: usize,
    baseline: impl FnMut() -> f64,
    measured: impl FnMut() -> f64,
) -> Quartiles {
    summed_ratios(rounds, 1, baseline, measured)
}

/// As [`ratios`], but each round times `pairs` runs of each side, interleaved (the baseline
/// first in every other pair), and takes the ratio of the sides' summed times: for runs of a
/// few milliseconds, whose single times carry the machine's jitter, a round of several pairs
/// narrows the spread of the rounds' ratios without letting a drift fall between the sides.
pub fn summed_ratios(
    rounds: usize,
    pairs: usize,
    mut baseline: impl FnMut() -> f64,
    mut measured: impl FnMut() -> f64,
) -> Quartiles {
    let ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (mut b, mut m) = (0.0, 0.0);
            for pair in 0..pairs {
                if (round + pair) % 2 == 0 {
                    b += baseline();
                    m += measured();
                } else {
                    m += measured();
                    b += baseline();
                }
            }
            m / b
        })
        .collect();
    Quartiles {
        pairs,
        ..quartiles(ratios)
    }
}

/// The median and quartiles of rounds' ratios measured some other way (for example, single
/// calls of both sides interleaved within each round, each side's time summed).
pub fn quartiles(mut ratios: Vec<f64>) -> Quartiles {
    let rounds = ratios.len();
    assert!(rounds > 0, "no rounds");
    ratios.sort_by(f64::total_cmp);
    Quartiles {
        rounds,
        pairs: 1,
        median: ratios[rounds / 2],
        low: ratios[rounds / 4],
        high: ratios[3 * rounds / 4],
    }
}

/// What [`ratios`] found.
pub struct Quartiles {
    pub rounds: usize,
    /// Runs of each side summed in a round ([`summed_ratios`]).
    pub pairs: usize,
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

impl std::fmt::Display for Quartiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "median of {} paired rounds", self.rounds)?;
        if self.pairs > 1 {
            write!(f, " (each summing {} interleaved runs a side)", self.pairs)?;
        }
        write!(
            f,
            " {:.3} x (quartiles {:.3} x to {:.3} x)",
            self.median, self.low, self.high
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
