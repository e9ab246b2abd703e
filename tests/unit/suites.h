/* suites.h - each test file registers one CUnit suite. */
#ifndef CNNC_TEST_SUITES_H
#define CNNC_TEST_SUITES_H

void suite_parse(void);     /* test_parse.c: lexer, parser, expander */
void suite_check(void);     /* test_check.c: shape rules and counts */
void suite_report(void);    /* test_report.c: table, JSON, DOT */
void suite_errors(void);    /* test_errors.c: the malformed-input corpus */
void suite_examples(void);  /* test_examples.c: published counts */

#endif
