/*
 * mtasts.h - umbrella header of libmtasts.
 */
#ifndef MTASTS_MTASTS_H
#define MTASTS_MTASTS_H

#include "domain.h"
#include "err.h"
#include "limits.h"
#include "mxmatch.h"
#include "policy.h"
#include "tlsrpt.h"
#include "txt.h"

#endif
