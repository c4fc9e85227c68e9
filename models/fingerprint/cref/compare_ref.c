// Reference C port of fpcore.compare, used to check exactness (0 mismatches vs Python on 400 pairs) and to
// measure cost. Build/run in a folder holding recs.bin + ref.bin from dump_records.py DATASET_DIR:
//   /usr/bin/python3 dump_records.py /tmp/fp/h60 && gcc -O3 -march=native -ffast-math -o cmp compare_ref.c -lm && ./cmp
// Record layout: int32 n; float32 pts[256][2] (x,y px at 256); float32 desc[3][256][128] (sets -14, 0, +14 deg).
// Reference C port of fpcore.compare (for cost measurement). gcc -O3 -march=native
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>
#define K 256
#define D 128
#define R 3
typedef struct { int n; float pts[K][2]; float desc[R][K][D]; } Rec;
static int cmpidx_sim; static float *g_s;
static int bysim(const void *a, const void *b){ int i=*(const int*)a, j=*(const int*)b; float x=g_s[i], y=g_s[j];
  if (x>y) return -1; if (x<y) return 1; return i<j?-1:(i>j); }
static int compare_one(const Rec *a, const Rec *b, int set){
  int na=a->n, nb=b->n; if(na<2||nb<2) return 0;
  static float rowmax[K], colmax[K]; static int rowarg[K], colarg[K];
  for(int j=0;j<nb;j++){colmax[j]=-1e30f;colarg[j]=0;}
  for(int i=0;i<na;i++){ float best=-1e30f; int bj=0; const float *x=a->desc[1][i];
    for(int j=0;j<nb;j++){ const float *y=b->desc[set][j]; float s=0; for(int k=0;k<D;k++) s+=x[k]*y[k];
      if(s>best){best=s;bj=j;} if(s>colmax[j]){colmax[j]=s;colarg[j]=i;} }
    rowmax[i]=best; rowarg[i]=bj; }
  int ia[K], m=0; float sims[K];
  for(int i=0;i<na;i++) if(colarg[rowarg[i]]==i){ ia[m]=i; sims[m]=rowmax[i]; m++; }
  if(m<2) return 0;
  int ord[K]; for(int t=0;t<m;t++) ord[t]=t; g_s=sims; qsort(ord,m,sizeof(int),bysim);
  double ax[K],ay[K],bx[K],by[K];
  for(int t=0;t<m;t++){ int i=ia[ord[t]], j=rowarg[i]; ax[t]=a->pts[i][0]; ay[t]=a->pts[i][1]; bx[t]=b->pts[j][0]; by[t]=b->pts[j][1]; }
  int T=m<40?m:40, best=0; const double lo=0.85, hi=1.18, maxrot=20.0*M_PI/180, tol2=9.0;
  for(int i=0;i<T;i++) for(int j=i+1;j<T;j++){
    double dax=ax[j]-ax[i], day=ay[j]-ay[i], da2=dax*dax+day*day; if(da2<144.0) continue;
    double dbx=bx[j]-bx[i], dby=by[j]-by[i];
    double qr=(dbx*dax+dby*day)/da2, qi=(dby*dax-dbx*day)/da2; double sc=sqrt(qr*qr+qi*qi);
    if(sc<lo||sc>hi||fabs(atan2(qi,qr))>maxrot) continue;
    double cr=bx[i]-(qr*ax[i]-qi*ay[i]), ci=by[i]-(qr*ay[i]+qi*ax[i]);
    int cnt=0; for(int t=0;t<m;t++){ double ex=qr*ax[t]-qi*ay[t]+cr-bx[t], ey=qr*ay[t]+qi*ax[t]+ci-by[t]; cnt+=(ex*ex+ey*ey<=tol2); }
    if(cnt>best) best=cnt; }
  return best;
}
static int compare(const Rec *p, const Rec *e){ int b=0; for(int s=0;s<R;s++){int v=compare_one(p,e,s); if(v>b)b=v;} return b; }
int main(){
  FILE *f=fopen("recs.bin","rb"); static Rec r[40];
  for(int i=0;i<40;i++){ fread(&r[i].n,4,1,f); fread(r[i].pts,4,K*2,f); fread(r[i].desc,4,R*K*D,f);} fclose(f);
  float ref[400]; f=fopen("ref.bin","rb"); fread(ref,4,400,f); fclose(f);
  int bad=0; for(int i=0;i<20;i++) for(int j=0;j<20;j++) if(compare(&r[20+i],&r[j])!=(int)ref[i*20+j]) bad++;
  printf("mismatches vs python: %d / 400\n", bad);
  int reps=5; struct timespec t0,t1; clock_gettime(CLOCK_MONOTONIC,&t0); volatile int sink=0;
  for(int k=0;k<reps;k++) for(int i=0;i<20;i++) for(int j=0;j<20;j++) sink+=compare(&r[20+i],&r[j]);
  clock_gettime(CLOCK_MONOTONIC,&t1); double ms=((t1.tv_sec-t0.tv_sec)*1e3+(t1.tv_nsec-t0.tv_nsec)/1e6)/(reps*400);
  printf("ms per compare (3 steered sets, scalar C -O3 -march=native, 1 thread): %.3f\n", ms);
  return 0; }
