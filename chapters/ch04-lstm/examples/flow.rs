//! Prints the numbers behind the chapter's gradient-flow figure: `‖∂L/∂h_t‖` of the
//! RNN and `‖∂L/∂h_t‖`, `‖∂L/∂c_t‖` of the LSTM (forget bias +0 and +3) at each
//! distance `T − t`.
//!
//! ```console
//! cargo run -p ch04-lstm --example flow
//! ```

use ch04_lstm::flow::{
    FIGURE_FLOW, FlowConfig, carried_fraction, gradient_flow, lstm_dh0_norm,
    open_gate_cell_state,
};

fn main() {
    let flow = gradient_flow(FIGURE_FLOW, &[0.0, 3.0]);
    for l in &flow.lstm {
        println!(
            "LSTM forget bias +{}: mean forget gate {:.3}",
            l.forget_bias, l.mean_forget
        );
    }
    println!(
        "{:>4} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "T-t", "RNN dh", "LSTM0 dh", "LSTM0 dc", "LSTM3 dh", "LSTM3 dc"
    );
    for k in (0..flow.rnn_dh.len())
        .step_by(5)
        .chain([flow.rnn_dh.len() - 1])
    {
        println!(
            "{k:>4} {:>10.2e} {:>10.2e} {:>10.2e} {:>10.2e} {:>10.2e}",
            flow.rnn_dh[k],
            flow.lstm[0].dh[k],
            flow.lstm[0].dc[k],
            flow.lstm[1].dh[k],
            flow.lstm[1].dc[k]
        );
    }
    println!();
    println!("forget bias +3, the path through h near the start of the sequence:");
    println!(
        "{:>4} {:>10} {:>10} {:>10}",
        "T-t", "dc", "dc via h", "o*tanh'(c)"
    );
    let l3 = &flow.lstm[1];
    for k in (0..l3.dc.len()).step_by(5).chain([l3.dc.len() - 1]) {
        println!(
            "{k:>4} {:>10.2e} {:>10.2e} {:>10.3}",
            l3.dc[k], l3.dc_from_h[k], l3.h_to_c[k]
        );
    }
    println!();
    for b in [0.0, 1.0, 3.0] {
        println!(
            "forget bias {b}: fraction of dL/dc carried 20 steps back {:.4e}",
            carried_fraction(b, 20)
        );
    }
    let cfg = FlowConfig {
        seq_len: 50,
        input_size: 4,
        hidden_size: 16,
        seed: 0,
    };
    for scale in [1.0, 4.0, 16.0] {
        println!(
            "T = 50, recurrent weights x{scale}: |dL/dh_0| = {:.3e}",
            lstm_dh0_norm(cfg, scale)
        );
    }
    println!("open gates: c_1000 = {}", open_gate_cell_state(1000)[999]);
}
