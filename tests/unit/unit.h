/*
 * unit.h - what every cmocka unit test includes. Each tests/unit/test_*.c is
 * its own program linked against every object of src/ except main.c.
 */
#ifndef TT_UNIT_H
#define TT_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
