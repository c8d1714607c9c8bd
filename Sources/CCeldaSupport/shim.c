// The header's functions are inline; this file gives the C target something to compile.
#include "celda_support.h"
