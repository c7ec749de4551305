//! "Nice" axis steps: 1, 2, 2.5 or 5 times a power of ten.

/// The tick values of a y axis from 0 to at least `max`, about `target` steps.
pub fn ticks(max: u64, target: u64) -> Vec<u64> {
    if max == 0 {
        return vec![0, 1];
    }
    let step = nice_step(max.div_ceil(target.max(1)));
    let top = max.div_ceil(step) * step;
    (0..=top / step).map(|i| i * step).collect()
}

fn nice_step(raw: u64) -> u64 {
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    for factor in [1, 2, 5, 10] {
        let step = magnitude.saturating_mul(factor);
        if step >= raw {
            // 2.5 × 10^k is nicer than 5 × 10^k when it is enough.
            if factor == 5 && magnitude >= 10 && magnitude / 2 * 5 >= raw {
                return magnitude / 2 * 5;
            }
            return step;
        }
    }
    magnitude.saturating_mul(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nice_ticks() {
        assert_eq!(ticks(0, 4), [0, 1]);
        assert_eq!(ticks(7, 4), [0, 2, 4, 6, 8]);
        assert_eq!(ticks(100, 4), [0, 25, 50, 75, 100]);
        assert_eq!(ticks(4_362_460, 4), [0, 2_000_000, 4_000_000, 6_000_000]);
    }

    proptest! {
        #[test]
        fn ticks_cover_the_maximum_in_a_few_steps(max in 1u64..1_000_000_000_000) {
            let t = ticks(max, 4);
            prop_assert!(*t.last().unwrap() >= max);
            prop_assert!(t.len() >= 2 && t.len() <= 6, "{:?}", t);
        }
    }
}
