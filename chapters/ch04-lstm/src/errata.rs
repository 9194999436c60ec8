//! Gradient checks of the source post's backward ([`crate::source_port`]), tensor
//! block by block.
//!
//! A check here compares the port's gradients with central differences of the true
//! loss (our forward, [`crate::cell::forward`]). The loss is the post's:
//! `L = Σ h_T ⊙ g`, a weighted sum of the last hidden state, since the post's
//! backward takes an error for `h_T` only.
//!
//! Each parameter is cut into its four gate blocks (`weight_ih[i]` is the rows of
//! gate i), so a report says which gate a bug touches. The port computes `∂L/∂h_0`
//! too; `c_0` has no error output in the post.

use ch00_foundations::gradcheck::{Difference, GradCheckReport, numeric_gradient};
use ch00_foundations::notation::{LSTM_GATE_NAMES, LSTM_GATES, gate_rows};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch00_foundations::tolerance::{GRAD_CHECK_EPS, GRAD_CHECK_RTOL};
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, s};

use crate::cell::{LstmGrads, LstmParams, LstmState, forward};
use crate::source_port::{self, Bugs, SourceParams};

/// One sequence (batch of one) and the weights `g` of the loss `L = Σ h_T ⊙ g`.
#[derive(Debug, Clone)]
pub struct PortCase {
    /// The parameters, PyTorch layout.
    pub params: LstmParams,
    /// `x: [T, 1, I]`.
    pub x: Array3<f64>,
    /// `h_0`, `c_0`: `[1, H]` each.
    pub s0: LstmState,
    /// `g = ∂L/∂h_T`: `[1, H]`.
    pub dh_last: Array2<f64>,
}

/// The gradients the port produces: the four parameter tensors and `∂L/∂h_0`
/// (`[1, H]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseGrads {
    /// Parameter gradients, PyTorch layout.
    pub grads: LstmGrads,
    /// `∂L/∂h_0`: `[1, H]`.
    pub dh0: Array2<f64>,
}

impl PortCase {
    /// The chapter's case: T = 6, I = 3, H = 4, PyTorch's initialisation, random
    /// `h_0`, `c_0` and `g` (seed 70).
    pub fn standard() -> Self {
        Self::random(70, 6, 3, 4)
    }

    /// A random case: PyTorch's initialisation, `x` and `g` from `U(-1, 1)`, `h_0`
    /// from `U(-0.5, 0.5)`, `c_0` from `U(-1, 1)`.
    pub fn random(
        seed: u64,
        steps: usize,
        input_size: usize,
        hidden_size: usize,
    ) -> Self {
        let mut rng = seeded_rng(seed);
        let params = LstmParams::init(input_size, hidden_size, &mut rng);
        PortCase {
            params,
            x: uniform_array((steps, 1, input_size), -1.0, 1.0, &mut rng),
            s0: LstmState {
                h: uniform_array((1, hidden_size), -0.5, 0.5, &mut rng),
                c: uniform_array((1, hidden_size), -1.0, 1.0, &mut rng),
            },
            dh_last: uniform_array((1, hidden_size), -1.0, 1.0, &mut rng),
        }
    }

    /// The check that came with the post's code in the tutorial it follows: I = 3, H
    /// = 2, two steps with inputs (1, 2, 3) and (2, 3, 4) from a zero state, weights
    /// from `U(-10⁻⁴, 10⁻⁴)`, zero biases, and the loss `Σ h_2` (so `g` is all
    /// ones).
    pub fn tutorial_check(seed: u64) -> Self {
        let (is, hs) = (3, 2);
        let mut rng = seeded_rng(seed);
        let g = LSTM_GATES * hs;
        let params = LstmParams {
            weight_ih: uniform_array((g, is), -1e-4, 1e-4, &mut rng),
            weight_hh: uniform_array((g, hs), -1e-4, 1e-4, &mut rng),
            bias_ih: Array1::zeros(g),
            bias_hh: Array1::zeros(g),
        };
        let x =
            Array3::from_shape_vec((2, 1, is), vec![1.0, 2.0, 3.0, 2.0, 3.0, 4.0])
                .expect("2 × 1 × 3 values");
        PortCase {
            params,
            x,
            s0: LstmState::zeros(1, hs),
            dh_last: Array2::ones((1, hs)),
        }
    }

    /// `L = Σ h_T ⊙ g` for other parameters or initial state, with our forward.
    pub fn loss(&self, p: &LstmParams, s0: &LstmState) -> f64 {
        let (_, s_n, _) = forward(p, self.x.view(), s0);
        (&s_n.h * &self.dh_last).sum()
    }

    /// The port's gradients with the given bugs, stacked into PyTorch's layout. Like
    /// the post's own check, it hands the backward the last step's input.
    pub fn port(&self, bugs: Bugs) -> CaseGrads {
        let sp = SourceParams::from_lstm(&self.params);
        let tr = source_port::forward(&sp, self.x.view(), &self.s0);
        let x_last = tr.xs.last().expect("at least one step");
        let g =
            source_port::backward(&sp, &tr, x_last.view(), self.dh_last.t(), bugs);
        let (grads, dh0) = g.to_lstm();
        CaseGrads { grads, dh0 }
    }

    /// Central differences (step [`GRAD_CHECK_EPS`]) of [`PortCase::loss`] for every
    /// entry of the four parameter tensors and of `h_0`.
    pub fn numeric(&self) -> CaseGrads {
        let p = &self.params;
        let num = |a: &Array2<f64>, f: &dyn Fn(&Array2<f64>) -> f64| {
            numeric_gradient(a, GRAD_CHECK_EPS, Difference::Central, f)
        };
        let num1 = |a: &Array1<f64>, f: &dyn Fn(&Array1<f64>) -> f64| {
            numeric_gradient(a, GRAD_CHECK_EPS, Difference::Central, f)
        };
        let with = |q: LstmParams| self.loss(&q, &self.s0);
        CaseGrads {
            grads: LstmGrads {
                dweight_ih: num(&p.weight_ih, &|w| {
                    with(LstmParams {
                        weight_ih: w.clone(),
                        ..p.clone()
                    })
                }),
                dweight_hh: num(&p.weight_hh, &|w| {
                    with(LstmParams {
                        weight_hh: w.clone(),
                        ..p.clone()
                    })
                }),
                dbias_ih: num1(&p.bias_ih, &|b| {
                    with(LstmParams {
                        bias_ih: b.clone(),
                        ..p.clone()
                    })
                }),
                dbias_hh: num1(&p.bias_hh, &|b| {
                    with(LstmParams {
                        bias_hh: b.clone(),
                        ..p.clone()
                    })
                }),
            },
            dh0: num(&self.s0.h, &|h| {
                self.loss(
                    p,
                    &LstmState {
                        h: h.clone(),
                        c: self.s0.c.clone(),
                    },
                )
            }),
        }
    }
}

/// One gradient-check report per gate block of each parameter tensor, then one for
/// `h0`: `weight_ih[i]`, `weight_ih[f]`, …, `bias_hh[o]`, `h0` (17 reports).
pub fn block_reports(
    analytic: &CaseGrads,
    numeric: &CaseGrads,
) -> Vec<GradCheckReport> {
    let hs = analytic.dh0.ncols();
    let (a, n) = (&analytic.grads, &numeric.grads);
    let mut out = Vec::new();
    let mut rows2 = |name: &str, a: &Array2<f64>, n: &Array2<f64>| {
        for (k, gate) in LSTM_GATE_NAMES.iter().enumerate() {
            let r = gate_rows(k, hs);
            let (ab, nb): (ArrayView2<f64>, ArrayView2<f64>) =
                (a.slice(s![r.clone(), ..]), n.slice(s![r, ..]));
            out.push(GradCheckReport::from_gradients(
                &format!("{name}[{gate}]"),
                GRAD_CHECK_EPS,
                &ab,
                &nb,
            ));
        }
    };
    rows2("weight_ih", &a.dweight_ih, &n.dweight_ih);
    rows2("weight_hh", &a.dweight_hh, &n.dweight_hh);
    for (name, av, nv) in [
        ("bias_ih", &a.dbias_ih, &n.dbias_ih),
        ("bias_hh", &a.dbias_hh, &n.dbias_hh),
    ] {
        for (k, gate) in LSTM_GATE_NAMES.iter().enumerate() {
            let r = gate_rows(k, hs);
            let (ab, nb): (ArrayView1<f64>, ArrayView1<f64>) =
                (av.slice(s![r.clone()]), nv.slice(s![r]));
            out.push(GradCheckReport::from_gradients(
                &format!("{name}[{gate}]"),
                GRAD_CHECK_EPS,
                &ab,
                &nb,
            ));
        }
    }
    out.push(GradCheckReport::from_gradients(
        "h0",
        GRAD_CHECK_EPS,
        &analytic.dh0,
        &numeric.dh0,
    ));
    out
}

/// Names of the reports above [`GRAD_CHECK_RTOL`], in report order.
pub fn failing(reports: &[GradCheckReport]) -> Vec<String> {
    reports
        .iter()
        .filter(|r| !r.passes(GRAD_CHECK_RTOL))
        .map(|r| r.name.clone())
        .collect()
}

/// One bar pair of the errata figure.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorError {
    /// The block: `weight_ih[i]`, …, `bias[o]` (the larger of `bias_ih` and
    /// `bias_hh`, which have the same gradient), `h0`.
    pub name: String,
    /// Largest relative error of the port as printed.
    pub as_printed: f64,
    /// Largest relative error with every bug fixed.
    pub fixed: f64,
}

/// The data of the errata figure: on [`PortCase::standard`], the largest relative
/// error of each block, for the port as printed and with every bug fixed. 13
/// entries: `weight_ih` ×4, `weight_hh` ×4, `bias` ×4, `h0`.
pub fn source_port_errors() -> Vec<TensorError> {
    let case = PortCase::standard();
    let numeric = case.numeric();
    let printed = block_reports(&case.port(Bugs::AS_PRINTED), &numeric);
    let fixed = block_reports(&case.port(Bugs::NONE), &numeric);
    let mut out: Vec<TensorError> = Vec::new();
    for (p, f) in printed.iter().zip(&fixed) {
        let name = p.name.replace("bias_ih", "bias").replace("bias_hh", "bias");
        match out.iter_mut().find(|e| e.name == name) {
            Some(e) => {
                e.as_printed = e.as_printed.max(p.max_rel_error);
                e.fixed = e.fixed.max(f.max_rel_error);
            }
            None => out.push(TensorError {
                name,
                as_printed: p.max_rel_error,
                fixed: f.max_rel_error,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source_port::Bug;
    use std::collections::BTreeSet;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn set(v: Vec<String>) -> BTreeSet<String> {
        v.into_iter().collect()
    }

    /// Every block name, in report order.
    fn all_blocks() -> BTreeSet<String> {
        let mut v = Vec::new();
        for t in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
            for g in LSTM_GATE_NAMES {
                v.push(format!("{t}[{g}]"));
            }
        }
        v.push("h0".to_string());
        v.into_iter().collect()
    }

    fn blocks(tensors: &[&str], gates: &[&str]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for t in tensors {
            for g in gates {
                out.insert(format!("{t}[{g}]"));
            }
        }
        out
    }

    /// What each bug breaks on its own, on a case with T ≥ 3 and a non-zero start.
    fn reach(bug: Bug) -> BTreeSet<String> {
        match bug {
            Bug::BiasITakesDeltaF => names(&["bias_ih[i]", "bias_hh[i]"]),
            Bug::BiasOTakesDeltaF => names(&["bias_ih[o]", "bias_hh[o]"]),
            Bug::InputWeightsLastStepOnly => {
                blocks(&["weight_ih"], &["i", "f", "g", "o"])
            }
            Bug::NoCellCarry => all_blocks(),
        }
    }

    fn failing_with(
        case: &PortCase,
        numeric: &CaseGrads,
        bugs: Bugs,
    ) -> BTreeSet<String> {
        set(failing(&block_reports(&case.port(bugs), numeric)))
    }

    #[test]
    fn the_port_as_printed_fails_the_gradient_check_and_the_fixed_port_passes() {
        let case = PortCase::standard();
        let numeric = case.numeric();
        assert_eq!(
            failing_with(&case, &numeric, Bugs::AS_PRINTED),
            all_blocks()
        );
        let fixed = block_reports(&case.port(Bugs::NONE), &numeric);
        for r in &fixed {
            r.assert_within(GRAD_CHECK_RTOL);
        }
    }

    /// Switch on one bug at a time: exactly the tensors it reaches fail.
    #[test]
    fn each_bug_alone_fails_exactly_the_tensors_it_reaches() {
        let case = PortCase::standard();
        let numeric = case.numeric();
        for bug in Bug::ALL {
            assert_eq!(
                failing_with(&case, &numeric, Bugs::only(bug)),
                reach(bug),
                "{bug:?}"
            );
        }
    }

    /// Start from the post and fix one bug after another (4, 3, 1, 2): each fix
    /// moves exactly the tensors that only it was breaking into tolerance.
    #[test]
    fn fixing_the_bugs_in_turn_moves_exactly_their_tensors_into_tolerance() {
        let case = PortCase::standard();
        let numeric = case.numeric();
        let mut bugs = Bugs::AS_PRINTED;
        let mut before = failing_with(&case, &numeric, bugs);
        assert_eq!(before, all_blocks());
        let ladder = [
            Bug::NoCellCarry,
            Bug::InputWeightsLastStepOnly,
            Bug::BiasITakesDeltaF,
            Bug::BiasOTakesDeltaF,
        ];
        for (n, bug) in ladder.iter().enumerate() {
            bugs = bugs.with(*bug, false);
            let after = failing_with(&case, &numeric, bugs);
            // What still fails is exactly the reach of the bugs still switched on.
            let still_on: BTreeSet<String> =
                ladder[n + 1..].iter().flat_map(|b| reach(*b)).collect();
            assert_eq!(after, still_on, "after fixing {bug:?}");
            assert!(after.is_subset(&before));
            before = after;
        }
        assert!(before.is_empty());
    }

    /// The missing carousel hides everything else: from the post, fixing bug 1, 2 or
    /// 3 alone moves nothing into tolerance, because bug 4 still spoils every
    /// tensor.
    #[test]
    fn from_the_post_no_single_fix_but_the_carousel_changes_what_fails() {
        let case = PortCase::standard();
        let numeric = case.numeric();
        for bug in [
            Bug::BiasITakesDeltaF,
            Bug::BiasOTakesDeltaF,
            Bug::InputWeightsLastStepOnly,
        ] {
            let bugs = Bugs::AS_PRINTED.with(bug, false);
            assert_eq!(failing_with(&case, &numeric, bugs), all_blocks(), "{bug:?}");
        }
        let bugs = Bugs::AS_PRINTED.with(Bug::NoCellCarry, false);
        let others: BTreeSet<String> = [
            Bug::BiasITakesDeltaF,
            Bug::BiasOTakesDeltaF,
            Bug::InputWeightsLastStepOnly,
        ]
        .iter()
        .flat_map(|b| reach(*b))
        .collect();
        assert_eq!(failing_with(&case, &numeric, bugs), others);
    }

    /// One step back, the lost carousel term only reaches the gates that write into
    /// c (i, f, g): with two steps the output gate's gradients are still right.
    #[test]
    fn with_two_steps_the_missing_carousel_spares_the_output_gate() {
        let case = PortCase::random(71, 2, 3, 4);
        let numeric = case.numeric();
        let mut want = blocks(
            &["weight_ih", "weight_hh", "bias_ih", "bias_hh"],
            &["i", "f", "g"],
        );
        want.insert("h0".to_string());
        assert_eq!(
            failing_with(&case, &numeric, Bugs::only(Bug::NoCellCarry)),
            want
        );
    }

    /// With one step there is no earlier step to sum over and no later cell state to
    /// carry from: bugs 3 and 4 change nothing, to the last bit.
    #[test]
    fn with_one_step_bugs_3_and_4_change_nothing() {
        let case = PortCase::random(72, 1, 3, 4);
        let on = Bugs::NONE
            .with(Bug::InputWeightsLastStepOnly, true)
            .with(Bug::NoCellCarry, true);
        assert_eq!(case.port(on), case.port(Bugs::NONE));
    }

    /// Bugs 1–3 never touch `weight_hh`, whatever the case: a check of the recurrent
    /// weights alone can only ever see bug 4.
    #[test]
    fn bugs_1_to_3_never_touch_the_recurrent_weights() {
        let case = PortCase::standard();
        let fixed = case.port(Bugs::NONE);
        let no_carousel = Bugs::AS_PRINTED.with(Bug::NoCellCarry, false);
        assert_eq!(
            case.port(no_carousel).grads.dweight_hh,
            fixed.grads.dweight_hh
        );
    }

    /// Why the check that came with the code saw nothing: it checked `W_fh` (the
    /// forget gate's block of `weight_hh`) on two steps from a zero state. There
    /// `h_0 = 0` wipes out step 1's term `δ_1 h_0ᵀ` of every recurrent gradient, and
    /// step 2, the last, has no later cell state to carry from. So the whole
    /// `weight_hh` gradient of the post as printed is the correct one, to the last
    /// bit. Also `c_0 = 0` makes step 1's forget-gate error exactly zero, which
    /// hides the bugs in `weight_ih[f]` and `bias[f]` as well. `weight_ih[o]` is
    /// wrong, but at these tiny weights by about 1e-9, below what the floored
    /// relative error can see. Every other tensor would have shown a bug.
    #[test]
    fn the_tutorials_own_check_could_not_see_any_of_the_four_bugs() {
        for seed in 0..5 {
            let case = PortCase::tutorial_check(seed);
            let printed = case.port(Bugs::AS_PRINTED);
            let fixed = case.port(Bugs::NONE);
            assert_eq!(printed.grads.dweight_hh, fixed.grads.dweight_hh);
            let f_rows = gate_rows(ch00_foundations::notation::LSTM_F, 2);
            assert_eq!(
                printed.grads.dweight_ih.slice(s![f_rows.clone(), ..]),
                fixed.grads.dweight_ih.slice(s![f_rows.clone(), ..])
            );
            assert_eq!(
                printed.grads.dbias_ih.slice(s![f_rows.clone()]),
                fixed.grads.dbias_ih.slice(s![f_rows])
            );
            let numeric = case.numeric();
            let mut want = blocks(&["weight_ih"], &["i", "g"]);
            want.extend(blocks(&["bias_ih", "bias_hh"], &["i", "g", "o"]));
            want.insert("h0".to_string());
            assert_eq!(
                set(failing(&block_reports(&printed, &numeric))),
                want,
                "seed {seed}"
            );
        }
    }

    /// The blindness is structural, not a matter of the tiny weights: with PyTorch's
    /// initialisation, two steps from a zero state still give the exact `weight_hh`
    /// gradient. A third step lets the same check of `W_fh` see bug 4.
    #[test]
    fn a_third_step_lets_the_same_check_see_bug_4() {
        let mut case = PortCase::tutorial_check(0);
        case.params = LstmParams::init(3, 2, &mut seeded_rng(73));
        let two = case.clone();
        assert_eq!(
            two.port(Bugs::AS_PRINTED).grads.dweight_hh,
            two.port(Bugs::NONE).grads.dweight_hh
        );
        case.x = Array3::from_shape_vec(
            (3, 1, 3),
            vec![1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 3.0, 4.0, 5.0],
        )
        .unwrap();
        let numeric = case.numeric();
        let reports = block_reports(&case.port(Bugs::AS_PRINTED), &numeric);
        let wfh = reports.iter().find(|r| r.name == "weight_hh[f]").unwrap();
        assert!(!wfh.passes(GRAD_CHECK_RTOL), "{wfh}");
        let only_4 =
            block_reports(&case.port(Bugs::only(Bug::NoCellCarry)), &numeric);
        assert!(!only_4[5].passes(GRAD_CHECK_RTOL), "{}", only_4[5]);
        let fixed = block_reports(&case.port(Bugs::NONE), &numeric);
        assert!(fixed.iter().all(|r| r.passes(GRAD_CHECK_RTOL)));
    }

    /// The single bias of the post is `bias_ih + bias_hh`, so its gradient is the
    /// gradient of each: the numeric gradients of the two PyTorch biases agree.
    #[test]
    fn the_two_pytorch_biases_have_the_one_gradient_of_the_posts_bias() {
        let case = PortCase::standard();
        let numeric = case.numeric();
        let d = &numeric.grads.dbias_ih - &numeric.grads.dbias_hh;
        assert!(d.iter().all(|v| v.abs() < 1e-9), "{d}");
    }

    #[test]
    fn the_figure_data_has_13_blocks_with_printed_errors_far_above_fixed_ones() {
        let errors = source_port_errors();
        assert_eq!(errors.len(), 13);
        assert_eq!(errors[8].name, "bias[i]");
        assert_eq!(errors[12].name, "h0");
        for e in &errors {
            assert!(e.as_printed > 1e-3, "{e:?}");
            assert!(e.fixed < GRAD_CHECK_RTOL, "{e:?}");
        }
    }
}
