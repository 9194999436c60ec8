//! Instructor-only tests for chapter 6: the versions on another shape, seed and
//! thread count; `fast_exp` at chosen points; the batch split on a wider grid.

use ch06_fused::act::fast_exp;
use ch06_fused::runners::{CellKind, Shape, check, runners};
use ch06_fused::threads::batch_chunks;

#[test]
fn ex6_1_lstm_v1_on_another_shape_and_seed() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    pool.install(|| {
        let shape = Shape {
            seq_len: 31,
            batch: 6,
            input_size: 5,
            hidden_size: 12,
        };
        let rs = runners(CellKind::Lstm, shape, 606);
        let want = rs[0].outputs();
        let v1 = &rs[1];
        check(&v1.outputs(), &want).unwrap_or_else(|e| panic!("{}: {e}", v1.name()));
    });
}

#[test]
fn ex6_2_fast_exp_at_chosen_points() {
    assert_eq!(fast_exp(0.0), 1.0);
    for x in [1.0f32, -1.0, 0.5, 10.0, -10.0, 80.0, -80.0, 1e-3] {
        let exact = f64::from(x).exp();
        let rel = (f64::from(fast_exp(x)) - exact).abs() / exact;
        assert!(rel < 5e-7, "exp({x}): relative error {rel:e}");
    }
    assert!(fast_exp(-1000.0) > 0.0 && fast_exp(-1000.0).is_normal());
    assert!(fast_exp(1000.0).is_finite());
    assert!(fast_exp(f32::NAN).is_nan());
}

#[test]
fn ex6_3_batch_chunks_on_a_wider_grid() {
    for b in 1..=40 {
        for parts in 1..=9 {
            let c = batch_chunks(b, parts);
            assert_eq!(c.len(), parts.min(b), "b={b} parts={parts}");
            let mut next = 0;
            for r in &c {
                assert_eq!(r.start, next, "b={b} parts={parts}: {c:?}");
                assert!(!r.is_empty());
                next = r.end;
            }
            assert_eq!(next, b);
            let sizes: Vec<usize> = c.iter().map(|r| r.len()).collect();
            assert!(
                sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
                "{c:?}"
            );
        }
    }
}
