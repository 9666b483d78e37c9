import torch

from gankit.seeding import reseed


def test_reseed_draws_what_torch_manual_seed_draws():
    torch.manual_seed(123)
    expected = torch.rand(5), torch.randn(3)
    torch.manual_seed(7)  # somewhere else in the stream
    reseed(123, torch.device("cpu"))
    got = torch.rand(5), torch.randn(3)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)
