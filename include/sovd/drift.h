/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Drift: what libvirt's events reveal was done behind sovd's back — a
 * domain defined, changed, started or undefined by anyone but sovd's API
 * (virsh, another tool, an incoming migration) — and bound VMs found on
 * places their policy does not allow. Each observation is an audit record
 * ("kind": "drift") and a journald entry, and the last few per VM are shown
 * in its compliance.
 *
 * The API announces the events its own calls will cause (drift_expect), so
 * they are not mistaken for drift. Thread-safe.
 */

#include <json-c/json.h>

/* The API is about to cause @event ("defined", "started", ...) on the domain named or identified by @key. */
void drift_expect(const char *key, const char *event);

/* A lifecycle event from libvirt (event thread). */
void drift_observe(const char *uuid, const char *name, const char *event);

/* After (re)connecting: bound VMs found on non-compliant places are recorded once per agent run. */
void drift_scan(void);

/* The recent drift observed for @uuid, newest last, as a new JSON array. */
struct json_object *drift_recent(const char *uuid);

void drift_reset(void);
