"""Small hand-made models for the fuzz corpus: many layer types at tiny sizes, so a case runs in
milliseconds (ncnn's benchmark networks cover the rest). Each passes pip ncnn and our runtime."""

MIXER = """
Input            in    0 1 x 0=12 1=10 2=4
Split            sp    1 3 x a b c
Convolution      c1    1 1 a a1 0=8 1=3 4=1 5=1 6=288 9=1
ConvolutionDepthWise dw 1 1 b b1 0=4 1=3 4=1 5=1 6=36 7=4 9=2 -23310=1,1.000000e-01
Pooling          p     1 1 c c1 0=0 1=3 2=1 3=1
Concat           cat   3 1 a1 b1 c1 d 0=0
ShuffleChannel   sh    1 1 d e 0=2
Slice            sl    1 2 e f g -23300=2,8,-233 1=0
Eltwise          el    2 1 f g h 0=1
BatchNorm        bn    1 1 h i 0=8
Scale            sc    1 1 i j 0=8 1=1
HardSwish        hs    1 1 j k 0=1.666667e-01 1=5.000000e-01
Interp           up    1 1 k l 0=2 1=2.0 2=2.0
Padding          pad   1 1 l m 0=1 1=1 2=1 3=1
Crop             cr    1 1 m n -23309=2,1,1 -23310=2,-1,-1 -23311=2,1,2
Deconvolution    de    1 1 n o 0=4 1=2 3=2 5=1 6=128
Split            so    1 2 o o1 o2
Sigmoid          sg    1 1 o1 s
BinaryOp         mul   2 1 s o2 t 0=2
Reshape          rs    1 1 t q 0=-1
InnerProduct     fc    1 1 q r 0=10 1=1 2=76800
Softmax          sm    1 1 r y
"""

SEQ = """
Input            in    0 1 x 0=16 1=8
LSTM             lstm  1 1 x a 0=12 1=768 2=0
GRU              gru   1 1 a b 0=12 1=432 2=0
LayerNorm        ln    1 1 b c 0=12 1=1.000000e-05 2=1
MultiHeadAttention mha 1 1 c d 0=12 1=2 2=144
GELU             ge    1 1 d e
Gemm             gm    1 1 e f 4=0 5=1 6=0 8=6 9=12 3=1
Permute          pm    1 1 f g 0=1
Reduction        rd    1 1 g h 0=0 1=0 -23303=1,0 4=1 5=1
Clip             cl    1 1 h y 0=-1.0 1=1.0
"""

MODELS = {"mixer": MIXER, "seq": SEQ}
