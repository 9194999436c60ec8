//! Three bidirectional layers of another shape, with dropout, for every cell:
//! every gradient against central differences.

use ch00_foundations::gradcheck::{assert_every_gradient, assert_gradient};
use ch00_foundations::rng::{seeded_rng, uniform_array};
use ch01_rnn::cell::LayerParams;
use ch02_bptt::backward::LayerGrads;
use ch02_bptt::driver::{Cell, RecurrentState, Rnn};
use ch04_lstm::Lstm;
use ch05_gru::{Gru, GruCho};
use ch08_beyond::{Dropout, Layer, stack_backward, stack_forward};
use ndarray::Array3;

fn three_bidirectional_layers<const G: usize, C>(seed: u64)
where
    C: Cell<Params = LayerParams<G>, Grads = LayerGrads<G>>,
{
    let (t, b, i, h, l) = (3, 3, 1, 3, 3);
    let mut rng = seeded_rng(seed);
    let layers: Vec<Layer<LayerParams<G>>> = (0..l)
        .map(|k| {
            let input = if k == 0 { i } else { 2 * h };
            Layer {
                forward: LayerParams::init(input, h, &mut rng),
                reverse: Some(LayerParams::init(input, h, &mut rng)),
            }
        })
        .collect();
    let x: Array3<f64> = uniform_array((t, b, i), -2.0, 2.0, &mut rng);
    let s0: Vec<C::State> = (0..2 * l)
        .map(|_| {
            let mut s = C::State::zeros(b, h);
            s.h_mut()
                .assign(&uniform_array((b, h), -0.8, 0.8, &mut rng));
            s
        })
        .collect();
    let w_y: Array3<f64> = uniform_array((t, b, 2 * h), -1.0, 1.0, &mut rng);
    let w_h: Vec<C::State> = (0..2 * l)
        .map(|k| {
            let mut s = C::State::zeros(b, h);
            if k % 3 != 1 {
                s.h_mut()
                    .assign(&uniform_array((b, h), -1.0, 1.0, &mut rng));
            }
            s
        })
        .collect();
    let dropout = Dropout::new(0.3, seed);
    let loss =
        |layers: &[Layer<LayerParams<G>>], x: &Array3<f64>, s0: &[C::State]| {
            let (y, s_n, _) = stack_forward::<C>(layers, x.view(), s0, &dropout);
            (&y * &w_y).sum()
                + s_n
                    .iter()
                    .zip(&w_h)
                    .map(|(s, w)| (s.h() * w.h()).sum())
                    .sum::<f64>()
        };
    let (_, _, cache) = stack_forward::<C>(&layers, x.view(), &s0, &dropout);
    let (grads, dx, ds0) = stack_backward::<C>(&layers, &cache, w_y.view(), &w_h);
    for k in 0..l {
        for dir in 0..2 {
            assert_every_gradient(
                layers[k].direction(dir).unwrap(),
                grads[k].direction(dir).unwrap(),
                |moved| {
                    let mut net = layers.clone();
                    *net[k].direction_mut(dir).unwrap() = moved.clone();
                    loss(&net, &x, &s0)
                },
            );
        }
    }
    assert_gradient("x", &x, &dx, |x| loss(&layers, x, &s0));
    for k in 0..2 * l {
        assert_gradient(&format!("h0[{k}]"), s0[k].h(), ds0[k].h(), |h| {
            let mut s = s0.to_vec();
            s[k].h_mut().assign(h);
            loss(&layers, &x, &s)
        });
    }
}

#[test]
fn three_bidirectional_layers_with_dropout_against_central_differences() {
    three_bidirectional_layers::<1, Rnn>(801);
    three_bidirectional_layers::<4, Lstm>(802);
    three_bidirectional_layers::<3, Gru>(803);
    three_bidirectional_layers::<3, GruCho>(804);
}
