//! Prints the numbers behind the chapter's figure of gradient norms against
//! distance.
//!
//! ```console
//! cargo run --release -p ch03-clipping --example gradient_norms
//! ```

use ch03_clipping::dynamics::{
    FIGURE_SEED, FIGURE_SEQ_LEN, Regime, dynamics_case, figure_curves, fitted_rate,
    symmetric_eigenvalues,
};

fn main() {
    let t = FIGURE_SEQ_LEN;
    println!(
        "{:>4} {:>10} {:>10} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>11}",
        "rho",
        "regime",
        "mean 1-h²",
        "|h|>0.95",
        "max |h|",
        "k = 10",
        "k = 30",
        format!("k = {t}"),
        "fit rate",
        "rho·mean"
    );
    for c in figure_curves() {
        let n = &c.norms;
        println!(
            "{:>4} {:>10} {:>10.4} {:>9.3} {:>9.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.4} {:>11.4}",
            c.rho,
            format!("{:?}", c.regime),
            c.mean_dtanh,
            c.frac_saturated,
            c.max_abs_h,
            n[10],
            n[30],
            n[t],
            fitted_rate(n, 10, t),
            c.rho * c.mean_dtanh
        );
    }
    let w = dynamics_case(1.0, Regime::Linear, t, FIGURE_SEED)
        .params
        .weight_hh;
    let eig = symmetric_eigenvalues(w.view());
    println!(
        "W_hh at rho = 1: smallest eigenvalue {:.4}, largest {:.4}, next {:.4}",
        eig[0],
        eig[eig.len() - 1],
        eig[eig.len() - 2]
    );
    println!(
        "fit rate: exp of the least-squares slope of ln ‖∂L/∂h_t‖ over k = 10 … {t}"
    );
}
