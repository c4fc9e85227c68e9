"""Dumps 20 gallery + 20 probe fingerprint records and Python reference scores for compare_ref.c."""
import sys, csv, numpy as np
import os; sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import fpcore
from eval import load
d=sys.argv[1] if len(sys.argv) > 1 else '/tmp/fp/h60'
gal=list(csv.DictReader(open(d+'/gallery.csv')))[:20]
prb=list(csv.DictReader(open(d+'/probes.csv')))[:20]
recs=[]
for r in gal+prb:
    f=fpcore.fingerprint(load(d+'/'+r['image']))
    recs.append(f)
K=256
with open('recs.bin','wb') as fo:
    for f in recs:
        n=len(f['pts']); pts=np.zeros((K,2),np.float32); pts[:n]=f['pts']
        np.array([n],np.int32).tofile(fo); pts.tofile(fo)
        for d_ in f['desc_rot']:
            dd=np.zeros((K,128),np.float32); dd[:n]=d_; dd.tofile(fo)
# reference scores: probe i vs gallery j
S=np.array([[fpcore.compare(recs[20+i],recs[j]) for j in range(20)] for i in range(20)])
S.astype(np.float32).tofile('ref.bin')
print(S.diagonal()[:10], S.max())
