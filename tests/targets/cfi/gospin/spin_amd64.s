#include "textflag.h"

// func spinbp(n uint64) uint64: rbp is a loop counter here, so a walk of
// the frame-pointer chain from inside the loop goes nowhere. The assembler
// saves rbp in the prologue and restores it before RET.
TEXT ·spinbp(SB), NOSPLIT, $8-16
	MOVQ n+0(FP), CX
	XORQ BP, BP
	XORQ AX, AX
loop:
	ADDQ BP, AX
	IMULQ $40503, AX
	INCQ BP
	CMPQ BP, CX
	JB loop
	MOVQ AX, ret+8(FP)
	RET
