//! Every fast version against the chapter 4/5 `f64` code: outputs, final states and every
//! gradient, within the named `f32` tolerance, on several shapes and thread counts.

use ch06_fused::runners::{CellKind, Named, Shape, check, runners};

const SHAPES: [(usize, usize, usize, usize); 5] = [
    (5, 3, 4, 6),
    (1, 1, 1, 1),
    (20, 4, 16, 8),
    (7, 5, 3, 9),   // B = 5 splits unevenly over 2 or 3 threads
    (3, 2, 33, 17), // H not a multiple of the SIMD width
];

fn shape((seq_len, batch, input_size, hidden_size): (usize, usize, usize, usize)) -> Shape {
    Shape {
        seq_len,
        batch,
        input_size,
        hidden_size,
    }
}

/// Version `version` (1, 2 or 3) of `cell` against the chapter code, on every shape, in a pool
/// of `threads` threads.
fn check_version(cell: CellKind, version: usize, threads: usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        for (k, s) in SHAPES.into_iter().enumerate() {
            let rs = runners(cell, shape(s), 60 + k as u64);
            let names: Vec<_> = rs.iter().map(|r| r.name()).collect();
            assert_eq!(names, ["naive", "v1", "v2", "v3"]);
            let want = rs[0].outputs();
            let r = &rs[version];
            if let Err(e) = check(&r.outputs(), &want) {
                panic!(
                    "{} {} {s:?} on {threads} thread(s): {e}",
                    cell.name(),
                    r.name()
                );
            }
        }
    });
}

#[test]
fn v1_of_the_lstm_and_the_gru_matches_chapters_4_and_5() {
    check_version(CellKind::Lstm, 1, 1);
    check_version(CellKind::Gru, 1, 1);
}

#[test]
fn v2_of_the_lstm_and_the_gru_matches_chapters_4_and_5() {
    check_version(CellKind::Lstm, 2, 1);
    check_version(CellKind::Gru, 2, 1);
}

#[test]
fn v3_of_the_lstm_and_the_gru_matches_on_one_two_and_three_threads() {
    for threads in [1, 2, 3] {
        check_version(CellKind::Lstm, 3, threads);
        check_version(CellKind::Gru, 3, threads);
    }
}

#[test]
fn the_check_catches_one_wrong_gradient_entry() {
    let rs = runners(CellKind::Lstm, shape((4, 2, 3, 5)), 1);
    let want = rs[0].outputs();
    let mut got: Named = rs[1].outputs();
    assert!(check(&got, &want).is_ok());
    let (name, dw) = &mut got[4];
    assert_eq!(*name, "dweight_hh");
    dw[[3, 1]] += 1e-3;
    let err = check(&got, &want).unwrap_err();
    assert!(
        err.starts_with("dweight_hh:") && err.contains("1 outside"),
        "{err}"
    );
}

#[test]
fn a_long_sequence_stays_within_tolerance() {
    // T = 200 with large inputs saturates gates; errors must not grow with T beyond the bound.
    for cell in [CellKind::Lstm, CellKind::Gru] {
        let rs = runners(cell, shape((200, 3, 8, 16)), 9);
        let want = rs[0].outputs();
        for r in &rs[1..] {
            check(&r.outputs(), &want)
                .unwrap_or_else(|e| panic!("{} {}: {e}", cell.name(), r.name()));
        }
    }
}
