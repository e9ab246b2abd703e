#!/usr/bin/python3
"""vnet.py - V-Net (Milletari et al. 2016, Fig. 1) written from the paper.

The reading (docs/language.md says the same):
- 5x5x5 convolutions with padding 2: 1, 2, 3, 3, 3 per stage on the left
  (16, 32, 64, 128, 256 channels) and 3, 3, 2, 1 on the right (256, 128,
  64, 32 channels);
- a PReLU between the convolutions of a stage, and one after the stage's
  residual add, not after the last convolution (it feeds the add);
- the first stage adds the one-channel input, broadcast over its 16
  channels, before its PReLU;
- 2x2x2 stride-2 convolutions down and transposed convolutions up, each
  followed by a PReLU;
- the skip features concatenated before each right-hand stage, whose
  residual is that concatenation;
- a 1x1x1 convolution to 2 channels, then softmax over channels.

That reading gives 65,175,314 parameters, the count issue 11 names; this
model is the oracle for examples/vnet.net (counts.py) and, at 8 base
channels, for examples/vnet_small.net's training step (vnet_step.py).
`make check` also runs it alone, to pin the count.

    /usr/bin/python3 tests/torch/vnet.py           # prints the count
    /usr/bin/python3 tests/torch/vnet.py --check   # exit 1 unless 65175314
"""
import sys

import torch
import torch.nn as nn


class Stage(nn.Module):
    """n convolutions at c channels, PReLU between them, residual add, PReLU."""

    def __init__(self, cin, c, n):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv3d(cin if i == 0 else c, c, 5, padding=2) for i in range(n))
        self.acts = nn.ModuleList(nn.PReLU(c) for _ in range(n - 1))
        self.out_act = nn.PReLU(c)

    def forward(self, x):
        y = x
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if i < len(self.acts):
                y = self.acts[i](y)
        return self.out_act(y + x)   # a 1-channel x broadcasts over channels


class VNet(nn.Module):
    def __init__(self, base=16, classes=2):
        super().__init__()
        ch = [base * 2 ** i for i in range(5)]          # 16 .. 256
        left_convs = [1, 2, 3, 3, 3]
        right_convs = [3, 3, 2, 1]
        self.left = nn.ModuleList()
        self.down = nn.ModuleList()
        for i in range(5):
            self.left.append(Stage(1 if i == 0 else ch[i], ch[i], left_convs[i]))
            if i < 4:
                self.down.append(nn.Sequential(
                    nn.Conv3d(ch[i], ch[i + 1], 2, stride=2), nn.PReLU(ch[i + 1])))
        self.up = nn.ModuleList()
        self.right = nn.ModuleList()
        for j in range(4):
            i = 4 - j                                   # from stage i to i-1
            cin = ch[4] if j == 0 else 2 * ch[i]        # the stage below's output
            self.up.append(nn.Sequential(
                nn.ConvTranspose3d(cin, ch[i - 1], 2, stride=2),
                nn.PReLU(ch[i - 1])))
            self.right.append(Stage(2 * ch[i - 1], 2 * ch[i - 1], right_convs[j]))
        self.head = nn.Conv3d(2 * ch[0], classes, 1)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        skips = []
        for i in range(5):
            x = self.left[i](x)
            if i < 4:
                skips.append(x)
                x = self.down[i](x)
        for j in range(4):
            x = torch.cat([self.up[j](x), skips[3 - j]], dim=1)
            x = self.right[j](x)
        return self.softmax(self.head(x))


PAPER_COUNT = 65175314


if __name__ == "__main__":
    count = sum(p.numel() for p in VNet().parameters())
    print(count)
    if "--check" in sys.argv[1:]:
        small = VNet(base=4)(torch.rand(1, 1, 16, 16, 16))
        ok = count == PAPER_COUNT and tuple(small.shape) == (1, 2, 16, 16, 16)
        print("vnet: reading of Fig. 1 %s (%d parameters, want %d)" % ("ok" if ok else "WRONG", count, PAPER_COUNT))
        sys.exit(0 if ok else 1)
