"""The simultaneous update of the paper's MLPs with the backward pass written out by hand.

Same mathematics as ``gankit.core.schedules.SimultaneousStep`` over ``GanObjective`` (tested
equal in float64), less work:

- one discriminator pass over real and fake concatenated (dropout masks stay independent per
  example; there is no batch norm to couple the two halves);
- the discriminator's backward runs once. D has one logit per example and no coupling across
  examples, so the gradient of any per-example loss is that example's scalar dL/dlogit times the
  Jacobian of its logit. The Jacobian is propagated once with upstream 1; D's weight gradients
  scale it by dL_D/dlogit, G's input gradient by dL_G/dlogit. Autograd would propagate twice;
- no gradient nobody uses: no D weight gradient from G's loss, no input gradient for real
  images or for z;
- gradients go straight into the optimiser: for classic momentum one BLAS call computes
  ``inc = mu * inc - lr * dY^T X`` (beta and alpha of gemm), so weight gradients are never
  stored and the update is one more pass ``p += inc``;
- every activation buffer is allocated once per batch size.

Noise and dropout masks come from ``gankit.rng`` in the autograd step's order and shapes (z,
then D's masks for the real pass, then for the fake pass), so a seeded run draws the same numbers
with either step and the two differ only by float rounding (summation order); it runs inside the
trainer's ``shared_stream``. It implements one process and unconditional models only:
data-parallel and conditional runs go to the autograd step (``gankit.core.step.build_step``
and ``__call__`` check).
At an exact tie inside a maxout unit the gradient is split evenly among the maximal pieces, as
autograd's ``amax`` splits it. Ties are not rare: a hidden layer whose inputs dropout zeroed
entirely leaves every piece at its bias, and the biases start equal (the authors' Theano max
gave each tied piece the whole gradient instead).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from gankit import rng
from gankit.core.game import Batch
from gankit.core.losses import (
    discriminator_loss,
    generator_loss_minimax,
    generator_loss_non_saturating,
)
from gankit.core.objective import GanObjective, Objective
from gankit.core.optim import ClassicMomentumSGD
from gankit.core.players import Player, StepStats
from gankit.core.schedules import SimultaneousStep
from gankit.nets.dropout import Dropout
from gankit.nets.maxout import Maxout
from gankit.nets.mlp import MaxoutDiscriminator, MLPGenerator

Tensor = torch.Tensor


def supports(g: nn.Module, d: nn.Module, objective: Objective) -> bool:
    """Whether the fused step implements this pair of models and objective.

    Only the paper's unconditional MLPs as built by ``gankit.nets`` under the plain GAN
    objective (no other loss pair, no ``[reg]`` term): G has ReLU hidden layers and a sigmoid
    output, D alternates Dropout/Maxout and ends in Dropout/Linear, and no module has forward
    hooks. Anything else goes to the autograd step.
    """
    if not (type(g) is MLPGenerator and type(d) is MaxoutDiscriminator
            and type(objective) is GanObjective and objective.plain
            and objective.adversarial in (generator_loss_non_saturating, generator_loss_minimax)):
        return False
    # ReLU hidden units and a sigmoid output are written out below; a max-norm constraint
    # (paper-tfd) projects in forward pre-hooks, which a step without forward() never runs.
    if g.output != "sigmoid" or any(type(m) not in (nn.Linear, nn.ReLU) for m in g.hidden):
        return False
    if any(m._forward_pre_hooks or m._forward_hooks for m in (*g.modules(), *d.modules())):
        return False
    kinds = [type(m) for m in d.net]
    pairs = len(kinds) // 2
    return (len(kinds) % 2 == 0 and pairs >= 2
            and kinds == [Dropout, Maxout] * (pairs - 1) + [Dropout, nn.Linear])


class _Update:
    """Turns each gradient into the player's update the moment it is computed."""

    def __init__(self, player: Player) -> None:
        self.player = player
        self.opt = player.opt
        self.momentum = type(self.opt) is ClassicMomentumSGD and len(self.opt.param_groups) == 1
        self.grads: dict[Tensor, Tensor] = {}

    def begin(self) -> None:
        group = self.opt.param_groups[0]
        self.lr, self.mu = group["lr"], group.get("momentum", 0.0)

    def _target(self, p: Tensor) -> Tensor:
        if self.momentum:
            return self.opt.increment(p)
        if p not in self.grads:
            self.grads[p] = torch.empty_like(p)
        return self.grads[p]

    def mm(self, p: Tensor, a: Tensor, b: Tensor) -> None:
        """The gradient of weight ``p`` is ``a @ b``."""
        if self.momentum:
            self._target(p).addmm_(a, b, beta=self.mu, alpha=-self.lr)
        else:
            torch.mm(a, b, out=self._target(p))

    def mv(self, p: Tensor, a: Tensor, v: Tensor) -> None:
        """The gradient of bias ``p`` is ``a @ v``."""
        if self.momentum:
            self._target(p).addmv_(a, v, beta=self.mu, alpha=-self.lr)
        else:
            torch.mv(a, v, out=self._target(p))

    def finish(self) -> None:
        params = self.player.params()
        if self.momentum:
            self.opt.apply_increments(params)
        else:
            for p in params:
                p.grad = self.grads[p]
            self.opt.step()
            for p in params:
                p.grad = None
        self.player.lr_schedule.step()


class _Buffers:
    """Tensors reused from step to step (allocation of large CPU tensors is not free)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, Tensor] = {}

    def __call__(self, name: str, *shape: int, like: Tensor, dtype: torch.dtype | None = None
                 ) -> Tensor:
        key = (name, shape, dtype or like.dtype, like.device)
        buf = self._cache.get(key)
        if buf is None:
            buf = self._cache[key] = torch.empty(shape, dtype=dtype or like.dtype,
                                                 device=like.device)
        return buf


class FusedSimultaneousStep:
    """Call like ``SimultaneousStep``: ``step(g, d, [batch]) -> StepStats``."""

    def __init__(self, objective: GanObjective) -> None:
        self.objective = objective
        self.autograd = SimultaneousStep(objective)
        self.buf = _Buffers()
        self._updates: dict[int, _Update] = {}

    def _update(self, player: Player) -> _Update:
        upd = self._updates.get(id(player))
        if upd is None or upd.player is not player:
            upd = self._updates[id(player)] = _Update(player)
        return upd

    def __call__(self, g: Player, d: Player, batches: list[Batch]) -> StepStats:
        # A loss swapped in later, class labels or a DDP wrapper: the autograd step knows them.
        (batch,) = batches
        if (batch.labels is not None or g.ddp is not None or d.ddp is not None
                or not supports(g.net, d.net, self.objective)):
            return self.autograd(g, d, batches)
        return self._fused(g, d, batch.real)

    @torch.no_grad()
    def _fused(self, g: Player, d: Player, real: Tensor) -> StepStats:
        g_loss = self.objective.adversarial
        gnet, dnet = g.net, d.net
        assert isinstance(gnet, MLPGenerator) and isinstance(dnet, MaxoutDiscriminator)
        n = real.shape[0]
        buf = self.buf
        z = gnet.sample_noise(n)

        # ---- G forward: keep post-ReLU activations for the backward.
        g_lin = [m for m in gnet.hidden if isinstance(m, nn.Linear)] + [gnet.out]
        acts = [z]
        for i, lin in enumerate(g_lin[:-1]):
            h = torch.addmm(lin.bias, acts[-1], lin.weight.t(),
                            out=buf(f"g{i}", n, lin.out_features, like=z))
            acts.append(h.relu_())
        x = buf("x", 2 * n, g_lin[-1].out_features, like=z)
        x[:n].copy_(real.reshape(n, -1))
        fake = torch.addmm(g_lin[-1].bias, acts[-1], g_lin[-1].weight.t(), out=x[n:]).sigmoid_()
        fwd = self._d_forward(dnet, x, n)
        logits = fwd.logits
        real_logits, fake_logits = logits[:n], logits[n:]

        # ---- Losses (core/losses.py) and dL/dlogit, differentiated by hand.
        loss_d = discriminator_loss(real_logits, fake_logits)
        loss_g = g_loss(fake_logits)
        c = torch.sigmoid(logits)  # D(x); becomes dL_D/dlogit below
        p_real, p_fake = c[:n].mean(), c[n:].mean()
        # d/dl softplus(-l) = sigmoid(l) - 1; d/dl -softplus(l) = -sigmoid(l)
        r = (c[n:] - 1) / n if g_loss is generator_loss_non_saturating else c[n:] / -n
        c[:n].sub_(1)
        c.mul_(0.5 / n)
        dzs = self._d_jacobian(fwd, x, n)
        # G's upstream: dL_G/dfake = r * d logit / d fake (fake columns only).
        dfake = torch.mm(dzs[0][:, n:].t(), fwd.maxouts[0].linear.weight,
                         out=buf("dfake", n, fwd.maxouts[0].linear.in_features, like=x))
        dfake.mul_(fwd.masks[0][n:]).mul_(r.unsqueeze(1)).mul_(fake - fake * fake)
        self._apply_updates(g, d, fwd, dzs, c, g_lin, acts, dfake)
        return StepStats(loss_d.detach(), loss_g.detach(), p_real, p_fake)

    def _d_forward(self, dnet: MaxoutDiscriminator, x: Tensor, n: int) -> _DForward:
        """D over [real; fake] with fresh per-example dropout masks. Hidden layers are held
        features x examples (U x 2n): the max over a unit's pieces then reduces a middle
        dimension with the examples contiguous, which vectorises; BLAS takes either."""
        buf = self.buf
        layers = [m for m in dnet.net if not isinstance(m, Dropout)]
        keeps = [m.keep for m in dnet.net if isinstance(m, Dropout)]
        maxouts, out = layers[:-1], layers[-1]
        drawn = _masks(n, [x.shape[1], *(mo.units for mo in maxouts)], keeps, x)
        m0 = drawn[0]
        masks = [m0]
        hts = [torch.mul(x, m0, out=buf("h0", *x.shape, like=x)).t()]  # inputs, in x 2n
        ties = []
        for i, mo in enumerate(maxouts):
            lin = mo.linear
            pre = torch.addmm(lin.bias.unsqueeze(1), lin.weight, hts[-1],
                              out=buf(f"z{i}", lin.out_features, 2 * n, like=x))
            pre = pre.view(mo.units, mo.pieces, 2 * n)
            a = torch.amax(pre, 1, out=buf(f"a{i}", mo.units, 2 * n, like=x))
            # 1.0 where a piece is maximal, else 0.0: held as floats, since the backward's
            # count and product would otherwise convert a bool tensor twice (3x the time).
            ties.append(torch.eq(pre, a.unsqueeze(1), out=buf(f"e{i}", *pre.shape, like=x)))
            m = drawn[i + 1].t()
            masks.append(m)
            hts.append(a.mul_(m))
        logits = torch.addmv(out.bias, hts[-1].t(), out.weight[0])
        return _DForward(logits, maxouts, out, masks, hts, ties)

    def _d_jacobian(self, fwd: _DForward, x: Tensor, n: int) -> list[Tensor]:
        """Jacobian of each logit, propagated once down D (upstream 1). A maxout unit passes
        it to its maximal piece (split evenly at an exact tie, as autograd's amax does)."""
        dh = fwd.masks[-1] * fwd.out.weight.t()  # d logit / d (pre-dropout) maxout output
        dzs: list[Tensor] = [None] * len(fwd.maxouts)  # type: ignore[list-item]
        for i in reversed(range(len(fwd.maxouts))):
            mo = fwd.maxouts[i]
            ties = fwd.ties[i]
            dh = dh / ties.sum(1)  # 1 piece, unless tied
            dz = torch.mul(ties, dh.unsqueeze(1), out=self.buf(f"dz{i}", *ties.shape, like=x))
            dzs[i] = dz = dz.view(mo.linear.out_features, 2 * n)
            if i > 0:
                dh = torch.mm(mo.linear.weight.t(), dz,
                              out=self.buf(f"dh{i}", mo.linear.in_features, 2 * n, like=x))
                dh.mul_(fwd.masks[i])
        return dzs

    def _apply_updates(self, g: Player, d: Player, fwd: _DForward, dzs: list[Tensor],
                       c: Tensor, g_lin: list[nn.Linear], acts: list[Tensor],
                       dfake: Tensor) -> None:
        """D's update: dL_D/dW = dz (c * h_in)^T, all 2n examples in one gemm; G's update:
        plain backprop from dfake."""
        buf, hts, n = self.buf, fwd.hts, dfake.shape[0]
        upd_d, upd_g = self._update(d), self._update(g)
        upd_d.begin()
        upd_g.begin()
        upd_d.mm(fwd.out.weight, c.unsqueeze(0), hts[-1].t())
        upd_d.mv(fwd.out.bias, c.unsqueeze(0), buf("ones2", 2 * n, like=c).fill_(1))
        for i, mo in enumerate(fwd.maxouts):
            upd_d.mm(mo.linear.weight, dzs[i], (hts[i] * c).t())
            upd_d.mv(mo.linear.bias, dzs[i], c)
        ones = buf("ones", n, like=c).fill_(1)
        do = dfake
        for i in reversed(range(len(g_lin))):
            lin = g_lin[i]
            upd_g.mm(lin.weight, do.t(), acts[i])
            upd_g.mv(lin.bias, do.t(), ones)
            if i > 0:
                da = torch.mm(do, lin.weight, out=buf(f"gd{i}", n, lin.in_features, like=do))
                do = torch.ops.aten.threshold_backward(da, acts[i], 0)  # ReLU's backward
        upd_d.finish()
        upd_g.finish()


class _DForward(NamedTuple):
    """What D's hand-written forward keeps for its backward."""

    logits: Tensor
    maxouts: list[Maxout]
    out: nn.Linear
    masks: list[Tensor]  # per layer input, (2n, width) for the pixels, (U, 2n) after
    hts: list[Tensor]  # each layer's input after dropout, features x examples
    ties: list[Tensor]  # 1.0 where a maxout piece is maximal


def _masks(n: int, widths: list[int], keeps: list[float], like: Tensor) -> list[Tensor]:
    """One (2n, width) dropout mask per D layer input: 1/keep with probability keep, else 0.

    Drawn from ``gankit.rng`` (the trainer's shared stream) in the autograd step's order and
    shapes: every layer's (n, width) draw for the real pass, then every layer's for the fake
    pass, as ``gankit.nets.dropout.Dropout`` draws them. The two steps then see the same masks
    and a seeded run gives the same numbers with either (to float rounding).
    """
    real = [rng.rand((n, w), like.device) for w in widths]
    fake = [rng.rand((n, w), like.device) for w in widths]
    return [torch.cat([r, f]).to(like.dtype).lt_(k).div_(k)
            for r, f, k in zip(real, fake, keeps, strict=True)]
