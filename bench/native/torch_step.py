"""PyTorch anchor for the training-step benchmark: the same networks, the same step
(forward, cross-entropy, backward, SGD with momentum and weight decay), images/s after warm-up.

Usage: python3 torch_step.py --model resnet32|resnet50 --batch N --steps N --warmup N --threads N [--method ce|iccl]
Prints one JSON line: {"model", "batch", "method", "images_per_s", "peak_rss_mb", "torch", ...}.

--method iccl: one ICCL stage-1 step as our trainer runs it (ICCL.md): a class-agnostic batch A and a
class-aware batch B of N each, x~ = lam x_a + (1 - lam) x_b with lam ~ Beta(1, 1) per image; A and x~
through the network as one batch of 2N; cross-entropy on A, interpolated cross-entropy on x~, the
interpolative centroid contrastive loss on the projection head's normalised embeddings of x~ against
the class centroids (tau 0.1), then the centroid EMA (m 0.9) from A's embeddings, outside autograd.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """CIFAR basic block with the parameter-free "option A" shortcut (subsample, zero-pad channels),
    as in He et al. 2016 sec. 4.2 and in our TensorFlow.js ResNet-32 (0.46M parameters)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        s = x[:, :, :: self.stride, :: self.stride] if self.stride != 1 else x
        if self.pad > 0:
            lo = self.pad // 2
            s = F.pad(s, (0, 0, 0, 0, lo, self.pad - lo))
        return F.relu(y + s)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs: 3 stages of n basic blocks, 16/32/64 channels."""

    def __init__(self, depth=32, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, cin = [], 16
        for i, c in enumerate([16, 32, 64]):
            for j in range(n):
                layers.append(BasicBlock(cin, c, 2 if (j == 0 and i > 0) else 1))
                cin = c
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def features(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1)

    def forward(self, x):
        return self.fc(self.features(x))


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.c1, self.b1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.c2, self.b2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.c3, self.b3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = F.relu(self.b2(self.c2(y)))
        y = self.b3(self.c3(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNet50(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for i, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
            for j in range(blocks):
                layers.append(Bottleneck(cin, width, 2 if (j == 0 and i > 0) else 1))
                cin = width * 4
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(2048, classes)

    def features(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1)

    def forward(self, x):
        return self.fc(self.features(x))


class IcclStep:
    """Projection head (dim(h) -> dim(h) -> 128, ReLU between, L2-normalised), K x 128 centroids."""

    def __init__(self, net, classes, dim=128, tau=0.1, momentum=0.9):
        feat = net.fc.in_features
        self.net, self.tau, self.m, self.classes = net, tau, momentum, classes
        self.head = nn.Sequential(nn.Linear(feat, feat), nn.ReLU(), nn.Linear(feat, dim))
        self.centroids = F.normalize(torch.randn(classes, dim), dim=1)
        self.beta = torch.distributions.Beta(torch.tensor(1.0), torch.tensor(1.0))

    def parameters(self):
        return list(self.net.parameters()) + list(self.head.parameters())

    def loss(self, xa, ya, xb, yb):
        n = xa.shape[0]
        lam = self.beta.sample((n,))
        xm = lam.view(-1, 1, 1, 1) * xa + (1 - lam.view(-1, 1, 1, 1)) * xb
        h = self.net.features(torch.cat([xa, xm], 0))
        ha, hm = h[:n], h[n:]
        oa, ob = F.one_hot(ya, self.classes).float(), F.one_hot(yb, self.classes).float()
        t = lam.view(-1, 1) * oa + (1 - lam.view(-1, 1)) * ob
        ce = F.cross_entropy(self.net.fc(ha), ya)
        mix = -(t * F.log_softmax(self.net.fc(hm), 1)).sum(1).mean()
        z = F.normalize(self.head(h), dim=1)
        icc = -(t * F.log_softmax(z[n:] @ self.centroids.t() / self.tau, 1)).sum(1).mean()
        return ce + mix + icc, z[:n].detach()

    def after_step(self, za, ya):
        with torch.no_grad():
            for i in range(za.shape[0]):
                c = ya[i]
                self.centroids[c] = F.normalize(self.m * self.centroids[c] + (1 - self.m) * za[i], dim=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet32")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=0, help="default: 10 for resnet32, 1000 for resnet50")
    ap.add_argument("--method", default="ce", choices=["ce", "iccl"])
    a = ap.parse_args()
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if a.classes == 0:
        a.classes = 10 if a.model == "resnet32" else 1000
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model == "resnet32":
        net, size = CifarResNet(32, a.classes), 32
    elif a.model == "resnet50":
        net, size = ResNet50(a.classes), 224
    else:
        raise SystemExit(f"unknown model {a.model}")
    net.train()
    iccl = IcclStep(net, a.classes) if a.method == "iccl" else None
    opt = torch.optim.SGD(iccl.parameters() if iccl else net.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    x = torch.randn(a.batch, 3, size, size)
    y = torch.arange(a.batch) * 7 % a.classes
    xb = torch.randn(a.batch, 3, size, size)
    yb = (torch.arange(a.batch) * 7 + 2) % a.classes

    def step():
        opt.zero_grad(set_to_none=True)
        if iccl:
            loss, za = iccl.loss(x, y, xb, yb)
        else:
            loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if iccl:
            iccl.after_step(za, y)
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    params = sum(p.numel() for p in net.parameters())
    print(json.dumps({
        "model": a.model, "batch": a.batch, "method": a.method, "steps": a.steps, "threads": a.threads,
        "ms_per_step": dt * 1000 / a.steps, "rss_after_import_mb": rss_after_import,
        "images_per_s": a.batch * a.steps / dt, "params": params,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
