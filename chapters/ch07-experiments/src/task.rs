//! The synthetic tasks behind one interface, so that one training loop
//! ([`crate::run`]) trains every cell on every task: a task draws batches, scores a
//! model's outputs with a loss (and its gradient) and with the metric the chapter
//! reports, and knows the metric's chance level.

use ch01_rnn::data::one_hot;
use ch01_rnn::model::sequence_loss;
use ndarray::{Array1, Array2, Array3, ArrayView3};

use crate::losses::{argmax, last_step_squared_error, masked_cross_entropy};
use crate::tasks::{
    ADDING_BASELINE_MSE, CopyTask, REBER_CHANCE_BRANCH_ACCURACY, REBER_SYMBOLS,
    adding_batch, embedded_reber_string, encode_reber, mse,
};

/// One batch of any task: the input, and what the loss and the metric compare with.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `[T, B, I]`.
    pub x: Array3<f64>,
    /// The targets, in the task's own form.
    pub target: Target,
}

/// What a batch's outputs are compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One number per sequence, read at the last step: `[B]`.
    Value(Array1<f64>),
    /// A symbol per step: `[T, B]`.
    Symbols(Array2<usize>),
    /// A symbol per step where `mask` is true (padded strings): `[T, B]` each, and
    /// per sequence the step whose target depends on the first branch.
    Masked {
        /// The symbols.
        symbols: Array2<usize>,
        /// Which steps count.
        mask: Array2<bool>,
        /// Per sequence, the step whose target repeats the branch.
        branch_step: Vec<usize>,
    },
}

/// A task the chapter trains on.
pub trait Task {
    /// The name in files and on the command line, e.g. `adding`.
    fn name(&self) -> &'static str;
    /// `I`.
    fn input_size(&self) -> usize;
    /// `V`: values the output layer produces per step.
    fn output_size(&self) -> usize;
    /// A batch of `batch` sequences.
    fn batch(&self, batch: usize, rng: &mut dyn rand::Rng) -> Batch;
    /// The summed loss of `logits: [T, B, V]` and its gradient.
    fn loss(&self, batch: &Batch, logits: ArrayView3<f64>) -> (f64, Array3<f64>);
    /// What the summed loss is divided by to get the mean: the sequences, or the
    /// scored steps.
    fn scored(&self, batch: &Batch) -> f64;
    /// The metric the chapter reports (test MSE, recall accuracy, branch accuracy).
    fn metric(&self, batch: &Batch, logits: ArrayView3<f64>) -> f64;
    /// What the metric is called, its chance level and which way is better.
    fn scoring(&self) -> Scoring;
}

/// A task's metric: its name, the score of a model that remembers nothing, and
/// whether a larger score is better.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scoring {
    /// E.g. `test MSE`.
    pub name: &'static str,
    /// The metric of a model that remembers nothing.
    pub chance: f64,
    /// Whether a larger metric is better.
    pub higher_is_better: bool,
}

/// The adding problem with sequences of `seq_len` steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adding {
    /// `T`.
    pub seq_len: usize,
}

impl Task for Adding {
    fn name(&self) -> &'static str {
        "adding"
    }
    fn input_size(&self) -> usize {
        2
    }
    fn output_size(&self) -> usize {
        1
    }
    fn batch(&self, batch: usize, rng: &mut dyn rand::Rng) -> Batch {
        let a = adding_batch(self.seq_len, batch, rng);
        Batch {
            x: a.x,
            target: Target::Value(a.target),
        }
    }
    fn loss(&self, batch: &Batch, logits: ArrayView3<f64>) -> (f64, Array3<f64>) {
        let Target::Value(target) = &batch.target else {
            unreachable!("an adding batch has values")
        };
        last_step_squared_error(logits, target.view())
    }
    fn scored(&self, batch: &Batch) -> f64 {
        batch.x.dim().1 as f64
    }
    fn metric(&self, batch: &Batch, logits: ArrayView3<f64>) -> f64 {
        let Target::Value(target) = &batch.target else {
            unreachable!("an adding batch has values")
        };
        let last = logits.dim().0 - 1;
        mse(logits.slice(ndarray::s![last, .., 0]), target.view())
    }
    fn scoring(&self) -> Scoring {
        Scoring {
            name: "test MSE",
            chance: ADDING_BASELINE_MSE,
            higher_is_better: false,
        }
    }
}

impl Task for CopyTask {
    fn name(&self) -> &'static str {
        "copy"
    }
    fn input_size(&self) -> usize {
        self.vocab_size()
    }
    fn output_size(&self) -> usize {
        self.vocab_size()
    }
    fn batch(&self, batch: usize, rng: &mut dyn rand::Rng) -> Batch {
        let b = CopyTask::batch(self, batch, rng);
        Batch {
            x: one_hot(b.inputs.view(), self.vocab_size()),
            target: Target::Symbols(b.targets),
        }
    }
    fn loss(&self, batch: &Batch, logits: ArrayView3<f64>) -> (f64, Array3<f64>) {
        let Target::Symbols(targets) = &batch.target else {
            unreachable!("a copy batch has symbols")
        };
        sequence_loss(logits, targets.view())
    }
    fn scored(&self, batch: &Batch) -> f64 {
        let (t, b, _) = batch.x.dim();
        (t * b) as f64
    }
    fn metric(&self, batch: &Batch, logits: ArrayView3<f64>) -> f64 {
        let Target::Symbols(targets) = &batch.target else {
            unreachable!("a copy batch has symbols")
        };
        self.recall_accuracy(argmax(logits).view(), targets.view())
    }
    fn scoring(&self) -> Scoring {
        Scoring {
            name: "recall accuracy",
            chance: self.chance_recall_accuracy(),
            higher_is_better: true,
        }
    }
}

/// Next-symbol prediction on strings of the embedded Reber grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reber;

impl Task for Reber {
    fn name(&self) -> &'static str {
        "reber"
    }
    fn input_size(&self) -> usize {
        REBER_SYMBOLS.len()
    }
    fn output_size(&self) -> usize {
        REBER_SYMBOLS.len()
    }
    /// Strings padded to the longest: the input at step `t` is symbol `t` (zeros
    /// after the end), the target symbol `t + 1`, scored while `t + 1` is inside the
    /// string.
    fn batch(&self, batch: usize, rng: &mut dyn rand::Rng) -> Batch {
        let strings: Vec<Vec<usize>> = (0..batch)
            .map(|_| encode_reber(&embedded_reber_string(rng)))
            .collect();
        let steps = strings.iter().map(Vec::len).max().expect("a batch") - 1;
        let v = REBER_SYMBOLS.len();
        let mut x = Array3::zeros((steps, batch, v));
        let mut symbols = Array2::zeros((steps, batch));
        let mut mask = Array2::from_elem((steps, batch), false);
        let mut branch_step = Vec::with_capacity(batch);
        for (b, s) in strings.iter().enumerate() {
            for t in 0..s.len() - 1 {
                x[[t, b, s[t]]] = 1.0;
                symbols[[t, b]] = s[t + 1];
                mask[[t, b]] = true;
            }
            branch_step.push(s.len() - 3); // its target is the second-to-last symbol
        }
        Batch {
            x,
            target: Target::Masked {
                symbols,
                mask,
                branch_step,
            },
        }
    }
    fn loss(&self, batch: &Batch, logits: ArrayView3<f64>) -> (f64, Array3<f64>) {
        let Target::Masked { symbols, mask, .. } = &batch.target else {
            unreachable!("a Reber batch is masked")
        };
        masked_cross_entropy(logits, symbols.view(), mask.view())
    }
    fn scored(&self, batch: &Batch) -> f64 {
        let Target::Masked { mask, .. } = &batch.target else {
            unreachable!("a Reber batch is masked")
        };
        mask.iter().filter(|&&m| m).count() as f64
    }
    fn metric(&self, batch: &Batch, logits: ArrayView3<f64>) -> f64 {
        let Target::Masked {
            symbols,
            branch_step,
            ..
        } = &batch.target
        else {
            unreachable!("a Reber batch is masked")
        };
        let guess = argmax(logits);
        let right = branch_step
            .iter()
            .enumerate()
            .filter(|&(b, &t)| guess[[t, b]] == symbols[[t, b]])
            .count();
        right as f64 / branch_step.len() as f64
    }
    fn scoring(&self) -> Scoring {
        Scoring {
            name: "branch accuracy",
            chance: REBER_CHANCE_BRANCH_ACCURACY,
            higher_is_better: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch00_foundations::rng::seeded_rng;

    #[test]
    fn a_reber_batch_scores_every_symbol_but_the_first_and_marks_the_branch() {
        let mut rng = seeded_rng(7);
        let batch = Reber.batch(6, &mut rng);
        let Target::Masked {
            symbols,
            mask,
            branch_step,
        } = &batch.target
        else {
            panic!("masked")
        };
        for (b, &t) in branch_step.iter().enumerate() {
            // string length − 1
            let len = mask.column(b).iter().filter(|&&m| m).count();
            assert_eq!(t, len - 2);
            // The branch symbol (T = 1 or P = 4) is the target there and at step 0.
            assert_eq!(symbols[[t, b]], symbols[[0, b]]);
            assert!(matches!(symbols[[0, b]], 1 | 4));
            // The input one-hots sum to one inside the string, zero after it.
            for s in 0..mask.nrows() {
                let ones = batch.x.slice(ndarray::s![s, b, ..]).sum();
                assert_eq!(ones, if mask[[s, b]] { 1.0 } else { 0.0 });
            }
        }
    }

    #[test]
    fn the_perfect_outputs_score_perfectly_and_zeros_score_chance_or_worse() {
        let mut rng = seeded_rng(8);
        let tasks: [Box<dyn Task>; 3] = [
            Box::new(Adding { seq_len: 12 }),
            Box::new(CopyTask {
                symbols: 8,
                recall: 5,
                delay: 7,
            }),
            Box::new(Reber),
        ];
        for task in &tasks {
            let batch = task.batch(64, &mut rng);
            let (t, b, _) = batch.x.dim();
            let v = task.output_size();
            // Outputs that are the targets (a large logit on the right symbol).
            let mut perfect = Array3::zeros((t, b, v));
            match &batch.target {
                Target::Value(y) => {
                    perfect.slice_mut(ndarray::s![t - 1, .., 0]).assign(y)
                }
                Target::Symbols(s) | Target::Masked { symbols: s, .. } => {
                    for ((ti, bi), &k) in s.indexed_iter() {
                        perfect[[ti, bi, k]] = 50.0;
                    }
                }
            }
            let scoring = task.scoring();
            let best = if scoring.higher_is_better { 1.0 } else { 0.0 };
            assert_eq!(task.metric(&batch, perfect.view()), best, "{}", task.name());
            let (loss, d) = task.loss(&batch, perfect.view());
            assert!(
                loss / task.scored(&batch) < 1e-10 && d.dim() == perfect.dim(),
                "{}",
                task.name()
            );
            let zeros = Array3::zeros((t, b, v));
            let m = task.metric(&batch, zeros.view());
            let worse_or_chance = if scoring.higher_is_better {
                m <= scoring.chance + 0.15
            } else {
                m >= 0.5 * scoring.chance
            };
            assert!(worse_or_chance, "{}: {m}", task.name());
        }
    }
}
