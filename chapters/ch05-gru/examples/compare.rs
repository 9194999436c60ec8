//! Prints the chapter's comparison: the cost table at the benchmark's shape, and how
//! fast each cell's gradient shrinks with distance (the data of the chapter's
//! figure).
//!
//! `cargo run -p ch05-gru --example compare`

use ch05_gru::compare::{
    FIGURE_SEQ_LEN, cost_table, factor_per_step, figure_curves,
};

fn main() {
    let (i, h, b) = (256, 256, 32);
    println!("Cost per cell at I = {i}, H = {h}, B = {b}:");
    println!(
        "{:<18} {:>5} {:>10} {:>16} {:>14}",
        "cell", "G", "scalars", "GEMM flops/step", "W_hh GEMMs"
    );
    for r in cost_table(i, h, b) {
        println!(
            "{:<18} {:>5} {:>10} {:>16} {:>14}",
            r.cell,
            r.gates,
            r.scalars,
            r.gemm_flops_per_step,
            r.dependent_hidden_gemms
        );
    }
    let k = FIGURE_SEQ_LEN;
    for c in figure_curves() {
        println!();
        println!(
            "Gradient norm by distance (remember bias {}), factor per step over k = 5..25:",
            c.remember_bias
        );
        println!(
            "{:<22} {:>8} {:>11} {:>11} {:>11}",
            "cell",
            "factor",
            "k = 10",
            "k = 30",
            format!("k = {k}")
        );
        for (name, n) in [
            ("RNN  ‖∂L/∂h‖", &c.rnn),
            ("LSTM ‖∂L/∂h‖", &c.lstm_h),
            ("LSTM ‖∂L/∂c‖", &c.lstm_c),
            ("GRU reset-after", &c.gru),
            ("GRU reset-before", &c.gru_cho),
        ] {
            println!(
                "{:<22} {:>8.3} {:>11.2e} {:>11.2e} {:>11.2e}",
                name,
                factor_per_step(n, 5, 25),
                n[10],
                n[30],
                n[k]
            );
        }
    }
}
