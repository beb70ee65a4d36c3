/* settings.h -- every FAMS_* setting, listed once.  config.c reads them from the
 * environment through this list; famsrun's options that set them, and its help
 * lines, are generated from it by the preprocessor (scripts/famsrun-options.c).
 *
 *   S(variable, kind, field, rule, option, arg, help)
 *     kind   how the value is read (config.c: SIZE, WORD, FLAG, TEXT, PATH)
 *     field  where it goes in struct fams_config, whose initial value is the default
 *     rule   its bounds, named in config.c (NO_RULE: none)
 *     option famsrun's long option for it ("" for none), arg the name of its value
 *     help   famsrun's help line for it
 * No system header here: the items are tokens and strings only. */
#ifndef FAMS_SETTINGS_H
#define FAMS_SETTINGS_H

#define FAMS_SETTINGS(S)                                                                      \
	S(FAMS_LOG, WORD, log_level, LOG_WORDS, "", "", "")                                              \
	S(FAMS_JOURNAL_SIZE, SIZE, journal_size, AT_LEAST_4K, "journal-size", "SIZE",                      \
	  "preallocate each journal to SIZE, in K/M/G")                                         \
	S(FAMS_JOURNAL_MAX, SIZE, journal_max, AT_LEAST_4K, "journal-max", "SIZE",                         \
	  "fail a commit that needs a larger journal")                                        \
	S(FAMS_JOURNAL_DIR, PATH, journal_dir, DIR_RULE, "journal-dir", "DIR",                          \
	  "keep journals in DIR instead of next to each file")                                \
	S(FAMS_COMMIT_LOG, WORD, commit_log, COMMIT_LOG_WORDS, "commit-log", "KIND",                     \
	  "how a commit is journaled: redo (one flush if it fits the journal; the default) or undo (two)")      \
	S(FAMS_TRACKER, WORD, tracker, TRACKER_WORDS, "tracker", "KIND", "dirty-page tracker: auto, uffd, uffd-sync or compare") \
	S(FAMS_TRACKER_MOVES, WORD, tracker_moves, MOVES_WORDS, "tracker-moves", "WHEN",                \
	  "with the auto tracker, move between uffd and uffd-sync by what commits write (auto), never, or at every commit of a whole file (always: a test of the moves)") \
	S(FAMS_STATS, FLAG, stats, NO_RULE, "", "", "")                                                \
	S(FAMS_REPORT, TEXT, report, NO_RULE, "report", "FILE",                                        \
	  "at exit, write to FILE where the program's commits came from and what they cost")   \
	S(FAMS_INCLUDE, TEXT, include, NO_RULE, "", "", "")                                            \
	S(FAMS_EXCLUDE, TEXT, exclude, NO_RULE, "", "", "")

#endif
