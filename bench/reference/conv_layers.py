"""Per-layer timing of the DCGAN-32 convolutions in PyTorch; counterpart of examples/conv_layers.rs."""
import torch, time
from torch import nn
torch.set_num_threads(2)
def tm(f):
    for _ in range(2): f()
    best=1e9
    for _ in range(5):
        s=time.perf_counter(); f(); best=min(best,time.perf_counter()-s)
    return best*1e3
b=64
layers=[("enc.first",1,64,32,False,True),("enc.p0",64,128,16,False,True),("enc.p1",128,256,8,False,True),("enc.last",256,100,4,False,False),
("dec.p0",100,256,1,True,False),("dec.p1",256,128,4,True,True),("dec.p2",128,64,8,True,True),("dec.last",64,1,16,True,True)]
for name,cin,cout,s,tr,s2 in layers:
    x=torch.randn(b,cin,s,s)
    C = nn.ConvTranspose2d if tr else nn.Conv2d
    m = C(cin,cout,4,2 if s2 else 1,1 if s2 else 0,bias=False)
    with torch.no_grad(): f=tm(lambda: m(x))
    xa=x.clone().requires_grad_()
    g=tm(lambda: m(xa).sum().backward())
    print(f"{name:28} fwd {f:7.2} ms  fwd+bwd {g:7.2} ms")
