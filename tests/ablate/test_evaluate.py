"""Bits per byte and the multiple-choice scorer against values worked out by hand on a model whose every prediction
is known: attention and feed-forward outputs are zero, so the next-token distribution depends on the current token
only, through the head."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from curate.trainer.evaluate import ChoiceItem, bits_per_byte, mean_stderr, multiple_choice, token_loss, windows
from curate.trainer.model import ModelArgs, Transformer

V = 128  # byte values < 128 are the tokens; 0 is EOS
EOS = 0


def encode(text: str) -> list[int]:
    return list(text.encode("ascii"))


def bigram_model(boost: dict[tuple[str, str], float]) -> Transformer:
    """Uniform next-token distribution, except logit ln(k) for (current, next) pairs in `boost`."""
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=V, n_layers=1, n_heads=4, n_kv_heads=4, ffn_dim=32, vocab_size=V,
                                  max_seq_len=16, norm_eps=1e-12))  # RMSNorm exact: logits are ln k
    with torch.no_grad():
        model.tok_embeddings.weight.copy_(torch.eye(V))  # RMSNorm turns e_x into sqrt(V) e_x
        model.layers[0].attention.wo.weight.zero_()
        model.layers[0].feed_forward.w2.weight.zero_()
        model.output.weight.zero_()
        for (cur, nxt), k in boost.items():
            model.output.weight[ord(nxt), ord(cur)] = math.log(k) / math.sqrt(V)
    return model.eval()


def test_windows_score_every_target_once():
    parts = windows(list(range(10)), 4)
    assert [w.tolist() for w in parts] == [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8], [8, 9]]


def test_bits_per_byte_uniform_is_log2_vocab():
    result = bits_per_byte(bigram_model({}), ["hello", "abc"], encode, EOS, seq_len=3)
    assert result.bytes == 8 and result.tokens == 8 and result.documents == 2
    assert result.bits_per_byte == pytest.approx(math.log2(V), abs=1e-5)


def test_nothing_to_score_is_an_error_not_a_perfect_score():
    with pytest.raises(ValueError, match="no text to score"):
        bits_per_byte(bigram_model({}), [], encode, EOS, seq_len=3)
    with pytest.raises(ValueError, match="no items to score"):
        multiple_choice(bigram_model({}), [], encode, EOS, seq_len=3)


def test_bits_per_byte_hand_computed_bigram():
    # p(b | a) = 129 / (127 + 129) = 129/256; every other prediction is 1/128.
    model = bigram_model({("a", "b"): 129})
    # "abab" after EOS: a|EOS, b|a, a|b, b|a -> 2 x 7 bits + 2 x log2(256/129) bits, over 4 bytes.
    expected = (2 * 7 + 2 * math.log2(256 / 129)) / 4
    for seq_len in (2, 3, 8):  # the windows must not change the sum: each target is scored once
        assert bits_per_byte(model, ["abab"], encode, EOS, seq_len).bits_per_byte == pytest.approx(expected, abs=1e-5)


def test_multiple_choice_acc_and_acc_norm_hand_computed():
    model = bigram_model({("a", " "): 3})  # p(" " | a) = 3/130
    items = [
        # " b": ln(3/130) + ln(1/128); " cc": ln(3/130) + 2 ln(1/128). acc picks "b" (higher sum);
        # per character: "b" -> ln(3/130) - ln 128 = -8.62 vs "cc" -> (ln(3/130) - 2 ln 128) / 2 = -6.74: "cc".
        ChoiceItem("a", ["b", "cc"], gold=1),
        ChoiceItem("xa", ["cc", "b"], gold=1),
    ]
    scores = multiple_choice(model, items, encode, EOS, seq_len=8)
    first = scores.loglikelihoods[0]
    assert first[0] == pytest.approx(math.log(3 / 130) - math.log(128), abs=1e-5)
    assert first[1] == pytest.approx(math.log(3 / 130) - 2 * math.log(128), abs=1e-5)
    assert scores.acc.tolist() == [0.0, 1.0]
    assert scores.acc_norm.tolist() == [1.0, 0.0]
    assert mean_stderr(scores.acc) == pytest.approx(np.std([0, 1], ddof=1) / math.sqrt(2))


def test_multiple_choice_cuts_long_context_from_the_left():
    model = bigram_model({("a", " "): 3})
    long = ChoiceItem("q" * 50 + "a", ["b"], gold=0)
    short = ChoiceItem("a", ["b"], gold=0)
    lls = multiple_choice(model, [long, short], encode, EOS, seq_len=4).loglikelihoods
    assert lls[0][0] == pytest.approx(lls[1][0], abs=1e-5)


def test_token_loss_counts_eos_and_tokens():
    model = bigram_model({})
    loss, n = token_loss(model, [np.array([97, 98, EOS]), np.array([99, EOS])], EOS, seq_len=2)
    assert n == 5 and loss == pytest.approx(math.log(V), abs=1e-5)
