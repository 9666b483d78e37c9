"""The captured training step: one game's update compiled by torch.compile, CUDA graphs on a GPU.

A small network's step on a GPU is host-bound: hundreds of kernel launches, an optimizer
that walks its tensors one by one, Python between them. With ``compile`` on, the loop
(gankit.loop.Trainer) runs each phase's update (the game's loss, backward, gradient norm,
optimizer step) and the weight averages through torch.compile:

* on CUDA with CUDA graphs (inductor's ``triton.cudagraphs``): each compiled piece (a phase
  is a few: the loss with its backward, compiled together, and the optimizer step, split where
  the code calls ``backward()`` or host logic) is replayed as one launch; TF32 is on for fp32
  matrix products;
* on the CPU with inductor's C++ kernels (this is what the tests run);
* learning rates live in tensors, so a schedule does not recompile;
* random numbers come from torch's own generators (inductor's ``fallback_random``): a
  compiled step draws exactly what the eager one draws, so the two compute the same step
  (to float rounding) and a run may switch between them on resume;
* host-side pieces (which rows a batch holds, a game's bookkeeping) stay eager, between graphs.

What cannot be compiled falls back to eager with a one-line notice, never an error: a device
without a compiler (or MPS), a phase that fails to compile or fails in compiled code.
"""

from __future__ import annotations

import shutil
from typing import Callable

import torch
from torch import Tensor

from gankit.errors import GankitError

Notice = Callable[[str], None]


def blocker(device: torch.device) -> str | None:
    """Why a step on ``device`` cannot be captured, or None when it can."""
    if device.type == "mps":
        return "torch.compile does not capture steps on Apple's MPS backend"
    if device.type == "cpu" and not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        return "the CPU compiled path needs a C++ compiler (g++ or clang++) and none was found"
    return None


def options(device: torch.device) -> dict:
    """inductor's options: the eager random streams, and CUDA graphs on a GPU."""
    return {"fallback_random": True, "triton.cudagraphs": device.type == "cuda"}


def enable_tf32(device: torch.device) -> None:
    """fp32 matrix products and convolutions on TF32 tensor cores (CUDA only; a no-op elsewhere)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def compiled(fn: Callable, device: torch.device, notice: Notice, what: str,
             buffers: Callable[[], list[Tensor]] = list) -> Callable:
    """``fn`` through torch.compile; if it fails (to compile, or in compiled code), ``fn`` runs eagerly
    from then on, with one notice naming ``what``.

    A failure comes before the optimizer step, the last thing an update does (a piece compiles
    when first reached, and the backward, where compiled code fails, comes before the step). The
    eager rerun starts from the state the call found: the random streams are rewound and, during
    the first calls (when compiling happens), ``buffers()`` (BatchNorm statistics, spectral-norm
    vectors) are put back. A genuine error fails the eager rerun too, and is raised from there.
    """
    fast = torch.compile(fn, options=options(device))
    calls, eager = 0, False

    def run(*args, **kwargs):
        nonlocal calls, eager
        if eager:
            return fn(*args, **kwargs)
        calls += 1
        streams = _random_states(device)
        saved = [b.clone() for b in buffers()] if calls <= 3 else None   # later recompiles are rare
        try:
            return fast(*args, **kwargs)
        except GankitError:   # the user's input, not the compiler: eager would say the same
            raise
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            notice(f"compile: {what} runs eagerly ({type(exc).__name__}: {lines[-1][:160] if lines else ''})")
            eager = True
            _set_random_states(device, streams)
            if saved:
                torch._foreach_copy_(buffers(), saved)
            return fn(*args, **kwargs)
    return run


def _random_states(device: torch.device) -> list[Tensor]:
    states = [torch.get_rng_state()]
    return states + ([torch.cuda.get_rng_state(device)] if device.type == "cuda" else [])


def _set_random_states(device: torch.device, states: list[Tensor]) -> None:
    torch.set_rng_state(states[0])
    if device.type == "cuda":
        torch.cuda.set_rng_state(states[1], device)


FORM_KEYS = ("fused", "foreach", "capturable")


def optimizer_form(optimizer: torch.optim.Optimizer) -> list[dict]:
    """How each parameter group was built to step (fused / foreach / capturable), to return to."""
    return [{k: group[k] for k in FORM_KEYS if k in group} for group in optimizer.param_groups]


def prepare_optimizer(optimizer: torch.optim.Optimizer, device: torch.device, captured: bool,
                      form: list[dict]) -> None:
    """The optimizer's form for this run, also right after a checkpoint (saved in either form) is loaded.

    Eager: the form ``form`` recorded when it was built. Captured: the learning rate in a 0-d
    tensor, so a schedule changes a value and not the compiled code; Adam in a form torch.compile
    traces (the fused kernel is opaque to it): on CUDA foreach and capturable, on the CPU one
    tensor at a time (the only CPU form that takes a tensor learning rate). A scheduled SGD
    momentum stays a float: torch.compile makes it a symbolic input after one recompile (a tensor
    would cost a data-dependent branch in SGD, a host sync every step).
    """
    graphs = captured and device.type == "cuda"
    for group, built in zip(optimizer.param_groups, form):
        group.update(built)
        if captured and "capturable" in group:   # the Adam family
            group.update(fused=False, foreach=graphs, capturable=graphs)
        on_device = bool(group.get("capturable") or group.get("fused"))
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if isinstance(state.get("step"), Tensor):
                state["step"] = state["step"].to(p.device if on_device else "cpu", torch.float32)
        lr = float(group["lr"])
        group["lr"] = torch.tensor(lr, device=device if graphs else "cpu") if captured else lr


def set_lr(group: dict, value: float) -> None:
    """The schedule's learning rate for this step: written into the tensor when the group holds one."""
    if isinstance(group["lr"], Tensor):
        group["lr"].fill_(value)
    else:
        group["lr"] = value


def step_begins(device: torch.device) -> None:
    """Tell CUDA graph trees a new step starts: outputs of the last one may be overwritten."""
    if device.type == "cuda":
        torch.compiler.cudagraph_mark_step_begin()
