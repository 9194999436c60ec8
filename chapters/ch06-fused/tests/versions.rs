//! Every fast version against the chapter 4/5 `f64` code: outputs, final states and
//! every gradient, within the named `f32` tolerance, on several shapes and thread
//! counts.

use ch06_fused::runners::{
    CellKind, Named, Shape, check, path_runners, runners, v7_path_runners,
};
use ch06_fused::simd::Path;

const SHAPES: [(usize, usize, usize, usize); 5] = [
    (5, 3, 4, 6),
    (1, 1, 1, 1),
    (20, 4, 16, 8),
    (7, 5, 3, 9),   // B = 5 splits unevenly over 2 or 3 threads
    (3, 2, 33, 17), // H not a multiple of the SIMD width
];

fn shape(
    (seq_len, batch, input_size, hidden_size): (usize, usize, usize, usize),
) -> Shape {
    Shape {
        seq_len,
        batch,
        input_size,
        hidden_size,
    }
}

/// Shapes where v7 splits the units on 2 and 3 threads: fewer batch rows than
/// threads and more than one backward panel (64 units on AVX-512, 32 on AVX2 and
/// portable), a partial one last.
const UNIT_SHAPES: [(usize, usize, usize, usize); 5] = [
    // v7 itself splits the units from 128 a thread: 192 and 68 on AVX-512
    (5, 1, 7, 260),
    // three panels on AVX-512: parts of 64 and 66 units (or 64, 64, 2)
    (6, 1, 5, 130),
    (3, 2, 9, 200), // B = 2: tiles of two rows
    (4, 1, 3, 65),  // one unit in the last panel
    (9, 1, 1, 97),  // I = 1
];

/// Version `version` (1 to 7) of `cell` against the chapter code, on every shape, in
/// a pool of `threads` threads.
fn check_version(cell: CellKind, version: usize, threads: usize) {
    check_version_on(cell, version, threads, &SHAPES);
}

fn check_version_on(
    cell: CellKind,
    version: usize,
    threads: usize,
    shapes: &[(usize, usize, usize, usize)],
) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        for (k, &s) in shapes.iter().enumerate() {
            let rs = runners(cell, shape(s), 60 + k as u64);
            let names: Vec<_> = rs.iter().map(|r| r.name()).collect();
            let want: &[&str] = match cell {
                CellKind::Lstm => {
                    &["naive", "v1", "v2", "v3", "v4", "v5", "v6", "v7"]
                }
                CellKind::Gru => &["naive", "v1", "v2", "v3", "v4", "v5", "v6"],
            };
            assert_eq!(names, want);
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
fn v4_of_the_lstm_and_the_gru_matches_chapters_4_and_5() {
    check_version(CellKind::Lstm, 4, 1);
    check_version(CellKind::Gru, 4, 1);
}

#[test]
fn v5_of_the_lstm_and_the_gru_matches_chapters_4_and_5() {
    check_version(CellKind::Lstm, 5, 1);
    check_version(CellKind::Gru, 5, 1);
}

#[test]
fn v6_of_the_lstm_and_the_gru_matches_on_one_two_and_three_threads() {
    for threads in [1, 2, 3] {
        check_version(CellKind::Lstm, 6, threads);
        check_version(CellKind::Gru, 6, threads);
    }
}

#[test]
fn v7_of_the_lstm_matches_on_one_two_and_three_threads() {
    for threads in [1, 2, 3] {
        check_version_on(CellKind::Lstm, 7, threads, &SHAPES);
        check_version_on(CellKind::Lstm, 7, threads, &UNIT_SHAPES);
    }
}

#[test]
fn v7_splits_the_units_on_every_simd_path_this_cpu_has() {
    let paths = Path::supported();
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            for (k, s) in UNIT_SHAPES.into_iter().chain(SHAPES).enumerate() {
                let rs = v7_path_runners(CellKind::Lstm, shape(s), 90 + k as u64);
                assert_eq!(rs.len(), 1 + paths.len());
                let want = rs[0].outputs();
                for r in &rs[1..] {
                    check(&r.outputs(), &want).unwrap_or_else(|e| {
                        panic!("{} {s:?} on {threads} threads: {e}", r.name())
                    });
                }
            }
        });
    }
    assert_eq!(v7_path_runners(CellKind::Gru, shape(SHAPES[0]), 1).len(), 1);
}

/// Shapes for the SIMD paths: with `row_tiles`, every tile height from 1 to 8 rows
/// on AVX-512 (tiles of up to 6 rows of 16 units for the LSTM and the backward
/// products, 8 for the GRU's forward) and on AVX2 (3 and 4 rows of 8), and a partial
/// last block of units and backward panel on each path.
const PATH_SHAPES: [(usize, usize, usize, usize); 10] = [
    (4, 1, 5, 16), // B = 1: the matrix-vector case
    // tiles of 3 and 4 (AVX-512), 2, 2, 3 (AVX2); H = 2 blocks of 16 and 1 unit
    (3, 7, 9, 33),
    (5, 9, 3, 8),    // tiles of 4 and 5
    (2, 13, 17, 70), // H = 70: a partial backward panel on every path
    (6, 4, 2, 1),    // H = 1
    (20, 2, 6, 24),
    (3, 6, 5, 20),  // one tile of 6 (AVX-512's LSTM height)
    (2, 8, 4, 17),  // one tile of 8 (AVX-512's GRU forward height)
    (2, 12, 3, 16), // two tiles of 6
    (2, 16, 6, 40), // 5, 5, 6 and 8, 8
];
#[test]
fn v5_matches_the_chapters_on_every_simd_path_this_cpu_has() {
    let paths = Path::supported();
    eprintln!("SIMD paths on this CPU: {paths:?}");
    for cell in [CellKind::Lstm, CellKind::Gru] {
        for (k, s) in PATH_SHAPES.into_iter().chain(SHAPES).enumerate() {
            let rs = path_runners(cell, shape(s), 80 + k as u64);
            let names: Vec<_> = rs.iter().map(|r| r.name()).collect();
            assert_eq!(names.len(), 1 + paths.len(), "{names:?}");
            assert_eq!(names.last(), Some(&"v5-portable"));
            let want = rs[0].outputs();
            for r in &rs[1..] {
                check(&r.outputs(), &want).unwrap_or_else(|e| {
                    panic!("{} {} {s:?}: {e}", cell.name(), r.name())
                });
            }
        }
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
    // T = 200 with large inputs saturates gates; errors must not grow with T beyond
    // the bound.
    for cell in [CellKind::Lstm, CellKind::Gru] {
        let rs = runners(cell, shape((200, 3, 8, 16)), 9);
        let want = rs[0].outputs();
        for r in &rs[1..] {
            check(&r.outputs(), &want)
                .unwrap_or_else(|e| panic!("{} {}: {e}", cell.name(), r.name()));
        }
    }
}

#[test]
fn the_exported_inputs_are_the_problem_the_versions_solve() {
    // Rebuild v2's problem from the exported numbers and compare its outputs with
    // the runner's.
    use ch06_fused::kernel::Kernel;
    use ch06_fused::lstm::{self, LstmF32, LstmState};
    use ndarray::{Array1, Array2, Array3};
    let s = shape((3, 2, 4, 5));
    let named = ch06_fused::runners::inputs_f32(CellKind::Lstm, s, 7);
    let get = |n: &str| named.iter().find(|(k, _)| *k == n).unwrap().1.clone();
    let m2 = |n: &str, r: usize, c: usize| {
        Array2::from_shape_vec((r, c), get(n)).unwrap()
    };
    let p = LstmF32 {
        weight_ih: m2("weight_ih", 20, 4),
        weight_hh: m2("weight_hh", 20, 5),
        bias_ih: Array1::from(get("bias_ih")),
        bias_hh: Array1::from(get("bias_hh")),
    };
    let x = Array3::from_shape_vec((3, 2, 4), get("x")).unwrap();
    let s0 = LstmState {
        h: m2("h0", 2, 5),
        c: m2("c0", 2, 5),
    };
    let (y, _, _) = lstm::V2::forward(&p, x.view(), &s0);
    let rs = runners(CellKind::Lstm, s, 7);
    let out = rs[2].outputs();
    assert_eq!(out[0].0, "y");
    let want = out[0].1.mapv(|v| v as f32);
    assert_eq!(y.into_dyn(), want);
}
