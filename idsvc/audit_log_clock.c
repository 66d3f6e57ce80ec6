/*
 * The wall clock compared with the times that the audit log recorded. A node whose clock
 * is behind accepts assertions and certificates that expired, and writes entries with
 * times earlier than those before them. The open of the log compares the clock with the
 * newest time in the database: the time of the last entry and the time that the latest
 * checkpoint signs. While the node runs, the checkpoint thread compares the clock with
 * the newest time written since the open.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit_log_internal.h"
#include "log.h"

/* Writes t as RFC 3339 UTC to the second, the form of the entries' times. */
static void format_time(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The latest time that RFC 3339 can write, 9999-12-31T23:59:59Z. */
#define RFC3339_TIME_MAX INT64_C(253402300799)

typedef struct last_entry {
    bool found;
    /* recorded_at is not an integer from 0 to RFC3339_TIME_MAX, which the node never writes */
    bool invalid;
    uint64_t index;
    time_t recorded_at;
} last_entry;

static int read_last_entry(void *ctx, const audit_row *row)
{
    last_entry *last = ctx;

    last->found = true;
    last->index = row->index;
    last->invalid = row->recorded_at_invalid || row->recorded_at < 0 ||
                    row->recorded_at > RFC3339_TIME_MAX;
    last->recorded_at = (time_t)row->recorded_at;
    return 0;
}

/*
 * Finds the newest time recorded before the open. The time is that of the last entry by
 * index and of the latest checkpoint, whichever is later, not the largest time in the
 * log. So once a clock that ran ahead is set right and the node starts past the check,
 * its own new entry becomes the last one and the next start compares with it. The
 * entry's time is its recorded_at column, which repeats the time in its hashed text.
 */
static int read_newest_time(audit_log *log, audit_clock_reading *reading, char *error,
                            size_t error_size)
{
    audit_filter filter;
    last_entry last = {0};

    audit_filter_all(&filter);
    filter.from = log->head.size > 0 ? log->head.size - 1 : 0;
    if (log->head.size > 0 &&
        audit_store_each_entry(log->store, &filter, read_last_entry, &last) != AUDIT_OK) {
        snprintf(error, error_size, "reading the time of the last audit entry from the "
                 "database failed");
        return -1;
    }
    /* A column edited out of range would hide the entry's time, or give one that gmtime
     * cannot format, so the start fails closed and names it. */
    if (last.found && last.invalid) {
        snprintf(error, error_size, "the recorded_at column of audit entry %" PRIu64 " is "
                 "not an integer number of seconds from 0 to %" PRId64 ", which the node "
                 "never writes: the database was edited. Run 'idsvc-admin audit verify' on "
                 "an export, and set the column to the entry's time",
                 last.index, RFC3339_TIME_MAX);
        return -1;
    }
    if (last.found && last.recorded_at >= log->checkpoint_time_at_open) {
        reading->recorded_time = last.recorded_at;
        reading->recorded_by_entry = true;
        reading->recorded_number = last.index;
    } else if (log->checkpoint_time_at_open != 0) {
        reading->recorded_time = log->checkpoint_time_at_open;
        reading->recorded_by_entry = false;
        reading->recorded_number = log->checkpoint_id_at_open;
    }
    return 0;
}

/*
 * Takes the time of the anchor in the HSM when it is later: the time its checkpoint
 * signs, and for a reset marker also the time of the reset. The anchor outlives a
 * replaced or emptied database, which records no time of its own, so a node started
 * after `audit anchor reset` is still checked against the times it wrote before.
 */
static void consider_anchor(audit_clock_reading *reading, const audit_anchor *anchor)
{
    time_t anchored = anchor->checkpoint.signed_at;

    if (anchor->reset && anchor->reset_at > anchored)
        anchored = anchor->reset_at;
    if (anchored <= reading->recorded_time)
        return;
    reading->recorded_time = anchored;
    reading->recorded_by_entry = false;
    reading->recorded_by_anchor = true;
    reading->recorded_number = anchor->checkpoint.head.size;
}

/* Writes what recorded the time, such as "audit entry 41", "audit checkpoint 7" or "the
 * HSM anchor of tree size 12". */
static void format_source(const audit_clock_reading *reading, char *out, size_t size)
{
    if (reading->recorded_by_anchor)
        snprintf(out, size, "the HSM anchor of tree size %" PRIu64, reading->recorded_number);
    else
        snprintf(out, size, "audit %s %" PRIu64,
                 reading->recorded_by_entry ? "entry" : "checkpoint", reading->recorded_number);
}

/* Logs one clock_behind_log line: an error that stops the start, a warning for a start
 * that --accept-clock-behind let pass, or an error of the running node. source names
 * what recorded the time. */
static void log_clock_behind(const audit_log *log, const audit_clock_reading *reading,
                             const char *source, log_level level, const char *consequence)
{
    char wall[32];
    char recorded[32];
    char behind[32];
    char tolerance[32];
    char message[LOG_MESSAGE_MAX];

    format_time(reading->wall_clock, wall);
    format_time(reading->recorded_time, recorded);
    snprintf(behind, sizeof(behind), "%lld", reading->behind_seconds);
    snprintf(tolerance, sizeof(tolerance), "%u", log->clock_tolerance);
    snprintf(message, sizeof(message),
             "the wall clock %s is %lld seconds (%.1f hours) behind %s, the time of %s, "
             "more than the tolerance of %u seconds. At this clock the node accepts "
             "expired assertions and certificates. %s",
             wall, reading->behind_seconds, (double)reading->behind_seconds / 3600.0,
             recorded, source, log->clock_tolerance, consequence);
    log_field fields[] = {
        {"wall_clock", wall},         {"recorded_time", recorded},
        {"recorded_by", source},      {"behind_seconds", behind},
        {"tolerance_seconds", tolerance}, {"message", message},
    };
    log_event(level, "clock_behind_log", fields, sizeof(fields) / sizeof(fields[0]));
}

/* Logs the comparison of a start that passed, so that the operator sees its values. */
static void log_clock_checked(const audit_clock_reading *reading)
{
    char wall[32];
    char recorded[32];
    char source[64];

    format_time(reading->wall_clock, wall);
    if (reading->recorded_time == 0) {
        log_message(LOG_INFO, "clock_checked",
                    "the wall clock is %s; the audit log records no time yet to compare "
                    "it with", wall);
        return;
    }
    format_time(reading->recorded_time, recorded);
    format_source(reading, source, sizeof(source));
    log_message(LOG_INFO, "clock_checked",
                "the wall clock %s is %lld seconds %s %s, the time of %s", wall,
                reading->behind_seconds > 0 ? reading->behind_seconds
                                            : -reading->behind_seconds,
                reading->behind_seconds > 0 ? "behind" : "ahead of", recorded, source);
}

int audit_log_check_clock(audit_log *log, const audit_anchor *anchor, char *error,
                          size_t error_size)
{
    audit_clock_reading reading = {.wall_clock = time(NULL)};
    char wall[32];
    char recorded[32];
    char source[64];

    if (!log->check_clock)
        return 0;
    if (read_newest_time(log, &reading, error, error_size) != 0)
        return -1;
    consider_anchor(&reading, anchor);
    reading.behind_seconds = (long long)reading.recorded_time - (long long)reading.wall_clock;
    if (reading.recorded_time == 0 || reading.behind_seconds <= (long long)log->clock_tolerance) {
        log->newest_time = reading.recorded_time;
        log_clock_checked(&reading);
        return 0;
    }
    format_source(&reading, source, sizeof(source));
    if (log->accept_clock_behind) {
        log_clock_behind(log, &reading, source, LOG_WARN,
                         "--accept-clock-behind lets the node start, and the audit log "
                         "records a clock_behind_accepted entry with both times");
        log->clock_accepted = reading;
        log->newest_time = reading.wall_clock;
        return 0;
    }
    log_clock_behind(log, &reading, source, LOG_ERROR,
                     "Set the clock right (check NTP and the hardware clock) and start "
                     "again. Only when the clock ran ahead when that time was written and "
                     "is right now, start once with --accept-clock-behind");
    format_time(reading.wall_clock, wall);
    format_time(reading.recorded_time, recorded);
    snprintf(error, error_size,
             "the wall clock %s is %lld seconds behind %s, the newest time in the audit "
             "log, more than the tolerance of %u seconds (clock_behind_log). Set the "
             "clock right, or start once with --accept-clock-behind if it ran ahead then",
             wall, reading.behind_seconds, recorded, log->clock_tolerance);
    return -1;
}

/* The payload of clock_behind_accepted: both times, what recorded the later one, the
 * difference and the tolerance. */
static json_t *accepted_payload(const audit_log *log, const audit_clock_reading *reading)
{
    char wall[32];
    char recorded[32];

    format_time(reading->wall_clock, wall);
    format_time(reading->recorded_time, recorded);
    const char *recorded_by = reading->recorded_by_anchor  ? "anchor"
                              : reading->recorded_by_entry ? "entry"
                                                           : "checkpoint";
    const char *number_name = reading->recorded_by_anchor  ? "anchor_tree_size"
                              : reading->recorded_by_entry ? "entry_index"
                                                           : "checkpoint_id";

    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "wall_clock", wall, "recorded_time",
                     recorded, "recorded_by", recorded_by, number_name,
                     (json_int_t)reading->recorded_number, "behind_seconds",
                     (json_int_t)reading->behind_seconds, "tolerance_seconds",
                     (json_int_t)log->clock_tolerance);
}

/*
 * Records the operator's decision to start with the clock behind, then signs a
 * checkpoint at once. Both then carry the corrected clock's time, so the next start,
 * even one after a crash, compares with them and needs no flag.
 */
int audit_log_finish_clock(audit_log *log, char *error, size_t error_size)
{
    json_t *payload;
    audit_event event = {.kind = "clock_behind_accepted"};
    audit_status status;

    if (log->clock_accepted.recorded_time == 0)
        return 0;
    payload = accepted_payload(log, &log->clock_accepted);
    event.time = log->clock_accepted.wall_clock;
    event.payload = payload;
    status = payload != NULL ? audit_record(log, &event, NULL) : AUDIT_ERR_NO_MEMORY;
    json_decref(payload);
    if (status != AUDIT_OK) {
        snprintf(error, error_size, "recording the clock_behind_accepted entry failed: %s",
                 audit_status_code(status));
        return -1;
    }
    status = audit_log_checkpoint(log, NULL);
    if (status != AUDIT_OK)
        log_message(LOG_ERROR, "audit_checkpoint_failed",
                    "the checkpoint after clock_behind_accepted was not signed: %s; until "
                    "one is signed, a start after a crash compares the clock with the "
                    "previous checkpoint's time again",
                    audit_status_code(status));
    return 0;
}

void audit_log_note_time(audit_log *log, time_t written)
{
    if (written > log->newest_time)
        log->newest_time = written;
}

void audit_log_watch_clock(audit_log *log)
{
    audit_clock_reading reading = {.wall_clock = time(NULL)};
    bool report = false;

    if (!log->check_clock)
        return;
    pthread_mutex_lock(&log->lock);
    reading.recorded_time = log->newest_time;
    reading.behind_seconds = (long long)reading.recorded_time - (long long)reading.wall_clock;
    if (reading.recorded_time != 0 && reading.recorded_time != log->clock_reported &&
        reading.behind_seconds > (long long)log->clock_tolerance) {
        log->clock_reported = reading.recorded_time;
        report = true;
    }
    pthread_mutex_unlock(&log->lock);
    if (report)
        log_clock_behind(log, &reading, "the newest audit entry or checkpoint written since the start",
                         LOG_ERROR,
                         "The clock stepped back while the node runs, and new entries "
                         "carry earlier times than older ones. The node keeps serving; "
                         "set the clock right");
}
