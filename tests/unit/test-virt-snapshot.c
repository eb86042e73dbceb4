/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Snapshots, checkpoints, jobs and pool paths of the libvirt layer against
 * libvirt's test driver (test:///default and its running domain "test").
 * The test driver keeps snapshots as metadata only, accepts external memory
 * snapshots and refuses disk-only ones and backups: the error mapping for
 * those is what is checked here; real QEMU behaviour is for the e2e tests.
 *
 * The tests share one driver instance and run in order: later ones see the
 * snapshots earlier ones made.
 */
#include <stdlib.h>

#include "sovd/errors.h"
#include "sovd/virt-backup.h"
#include "sovd/virt-conn.h"
#include "sovd/virt-snapshot.h"
#include "sovd/virt-vm.h"
#include "test-harness.h"

#define TEST_UUID "6695eb01-f6a4-8304-79aa-97f2502e193f" /* "test", running */
#define NO_UUID "00000000-0000-4000-8000-000000000001"

/* Strings that must survive the trip into libvirt's XML and back. */
#define DESCRIPTION "before <upgrade> & 'v2' \"final\""
#define MEMORY_FILE "/var/lib/sovd/it's <mem>.save"
#define OVERLAY_FILE "/var/lib/sovd/vda&1\".qcow2"

static struct virt_conn *conn(void) {
        static bool started;
        struct virt_conn *c = NULL;
        struct sovd_err err = {};

        if (!started) {
                ASSERT_OK(virt_start("test:///default", NULL, NULL, NULL));
                atexit(virt_stop);
                started = true;
        }
        if (virt_conn_acquire(&c, &err) < 0)
                TEST_FAIL("no libvirt connection: %s", err.msg);
        return c;
}

static int create(const char *name, enum virt_snapshot_kind kind, const char *memory_file,
                  const struct virt_snapshot_overlay *disks, size_t n_disks, struct sovd_err *err) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        struct virt_snapshot_request req = {
                .name = name, .kind = kind, .memory_file = memory_file, .disks = disks, .n_disks = n_disks,
        };

        return virt_snapshot_create(c, TEST_UUID, &req, err);
}

static void test_virt_snapshot_kind_strings(void) {
        for (int k = 0; k < _VIRT_SNAPSHOT_KIND_MAX; k++)
                ASSERT_INT_EQ(virt_snapshot_kind_from_string(virt_snapshot_kind_to_string(k)), k);
        ASSERT_STR_EQ(virt_snapshot_kind_to_string(VIRT_SNAPSHOT_DISK_ONLY), "disk-only");
        ASSERT_INT_EQ(virt_snapshot_kind_from_string("disk_only"), -EINVAL);
        ASSERT_NULL(virt_snapshot_kind_to_string(_VIRT_SNAPSHOT_KIND_MAX));
}

static void test_virt_snapshot_list_empty(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        struct virt_snapshot *a = NULL;
        struct sovd_err err = {};
        size_t n = 99;

        ASSERT_OK(virt_snapshot_list(c, TEST_UUID, &a, &n, &err));
        ASSERT_INT_EQ(n, 0);
        virt_snapshot_array_free(a, n);
}

static void test_virt_snapshot_create_internal(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_snapshot_overlay disks[] = { { .target = "vda" } };
        struct virt_snapshot_request req = {
                .name = "base", .description = DESCRIPTION, .kind = VIRT_SNAPSHOT_INTERNAL,
                .disks = disks, .n_disks = 1,
        };
        struct virt_snapshot s = {};
        struct sovd_err err = {};

        ASSERT_OK(virt_snapshot_create(c, TEST_UUID, &req, &err));
        ASSERT_OK(virt_snapshot_get(c, TEST_UUID, "base", &s, &err));
        ASSERT_STR_EQ(s.name, "base");
        ASSERT_STR_EQ(s.description, DESCRIPTION);
        ASSERT_NULL(s.parent);
        ASSERT_STR_EQ(s.state, "running");
        ASSERT_TRUE(s.created > 0);
        ASSERT_TRUE(s.current);
        ASSERT_INT_EQ(s.kind, VIRT_SNAPSHOT_INTERNAL);
        ASSERT_STR_EQ(s.memory_mode, "internal");
        ASSERT_NULL(s.memory_file);
        ASSERT_INT_EQ(s.n_disks, 1);
        ASSERT_STR_EQ(s.disks[0].target, "vda");
        ASSERT_STR_EQ(s.disks[0].mode, "internal");
        ASSERT_NULL(s.disks[0].file);
        virt_snapshot_done(&s);
        ASSERT_NULL(s.name);
}

static void test_virt_snapshot_create_exists(void) {
        const struct virt_snapshot_overlay disks[] = { { .target = "vda" } };
        struct sovd_err err = {};

        ASSERT_INT_EQ(create("base", VIRT_SNAPSHOT_INTERNAL, NULL, disks, 1, &err), -EEXIST);
        ASSERT_STR_CONTAINS(err.msg, "'base'");
}

static void test_virt_snapshot_create_full(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_snapshot_overlay disks[] = { { .target = "vda", .file = OVERLAY_FILE } };
        struct virt_snapshot s = {};
        struct sovd_err err = {};

        ASSERT_OK(create("with-memory", VIRT_SNAPSHOT_FULL, MEMORY_FILE, disks, 1, &err));
        ASSERT_OK(virt_snapshot_get(c, TEST_UUID, "with-memory", &s, &err));
        ASSERT_INT_EQ(s.kind, VIRT_SNAPSHOT_FULL);
        ASSERT_NULL(s.description);
        ASSERT_STR_EQ(s.parent, "base");
        ASSERT_TRUE(s.current);
        ASSERT_STR_EQ(s.memory_mode, "external");
        ASSERT_STR_EQ(s.memory_file, MEMORY_FILE);
        ASSERT_INT_EQ(s.n_disks, 1);
        ASSERT_STR_EQ(s.disks[0].target, "vda");
        ASSERT_STR_EQ(s.disks[0].mode, "external");
        ASSERT_STR_EQ(s.disks[0].file, OVERLAY_FILE);
        virt_snapshot_done(&s);

        /* Only one snapshot is current. */
        ASSERT_OK(virt_snapshot_get(c, TEST_UUID, "base", &s, &err));
        ASSERT_FALSE(s.current);
        virt_snapshot_done(&s);
}

static void test_virt_snapshot_list(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_snapshot_overlay disks[] = { { .target = "vda" } };
        struct virt_snapshot *a = NULL;
        struct sovd_err err = {};
        size_t n = 0;

        /* A child whose name sorts first: within one second, ancestry orders before names. */
        ASSERT_OK(create("a-child", VIRT_SNAPSHOT_INTERNAL, NULL, disks, 1, &err));
        ASSERT_OK(virt_snapshot_list(c, TEST_UUID, &a, &n, &err));
        ASSERT_INT_EQ(n, 3);
        ASSERT_STR_EQ(a[0].name, "base");
        ASSERT_STR_EQ(a[1].name, "with-memory");
        ASSERT_STR_EQ(a[2].name, "a-child");
        ASSERT_STR_EQ(a[2].parent, "with-memory");
        ASSERT_TRUE(a[0].created <= a[1].created && a[1].created <= a[2].created);
        ASSERT_INT_EQ(a[0].kind, VIRT_SNAPSHOT_INTERNAL);
        ASSERT_INT_EQ(a[1].kind, VIRT_SNAPSHOT_FULL);
        ASSERT_TRUE(a[2].current);
        virt_snapshot_array_free(a, n);
        ASSERT_OK(virt_snapshot_delete(c, TEST_UUID, "a-child", &err));
}

static void test_virt_snapshot_disk_only_unsupported(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_snapshot_overlay disks[] = { { .target = "vda", .file = "/var/lib/sovd/vda.overlay" } };
        struct virt_snapshot s = {};
        struct sovd_err err = {};

        /* The test driver refuses VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY as an unknown flag. */
        ASSERT_INT_EQ(create("disk-only", VIRT_SNAPSHOT_DISK_ONLY, NULL, disks, 1, &err), -EOPNOTSUPP);
        ASSERT_STR_CONTAINS(err.msg, "unsupported flags");
        ASSERT_STR_CONTAINS(err.msg, "'disk-only'");
        ASSERT_INT_EQ(virt_snapshot_get(c, TEST_UUID, "disk-only", &s, &err), -ENOENT);
}

static void test_virt_snapshot_bad_request(void) {
        const struct virt_snapshot_overlay unknown[] = { { .target = "vdz" } };
        const struct virt_snapshot_overlay no_file[] = { { .target = "vda" } };
        const struct virt_snapshot_overlay twice[] = { { .target = "vda" }, { .target = "vda" } };
        struct sovd_err err = {};

        ASSERT_INT_EQ(create("x", VIRT_SNAPSHOT_INTERNAL, NULL, unknown, 1, &err), -EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "no disk 'vdz'");
        ASSERT_INT_EQ(create("x", VIRT_SNAPSHOT_DISK_ONLY, NULL, no_file, 1, &err), -EINVAL);
        ASSERT_INT_EQ(create("x", VIRT_SNAPSHOT_FULL, NULL, NULL, 0, &err), -EINVAL);
        ASSERT_INT_EQ(create("x", VIRT_SNAPSHOT_INTERNAL, NULL, twice, 2, &err), -EINVAL);
        ASSERT_INT_EQ(create("", VIRT_SNAPSHOT_INTERNAL, NULL, no_file, 1, &err), -EINVAL);
}

static void test_virt_snapshot_revert(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        struct virt_snapshot s = {};
        struct sovd_err err = {};

        ASSERT_OK(virt_snapshot_revert(c, TEST_UUID, "base", &err));
        ASSERT_OK(virt_snapshot_get(c, TEST_UUID, "base", &s, &err));
        ASSERT_TRUE(s.current);
        virt_snapshot_done(&s);
        ASSERT_INT_EQ(virt_snapshot_revert(c, TEST_UUID, "nope", &err), -ENOENT);
        ASSERT_STR_CONTAINS(err.msg, "'nope'");
}

static void test_virt_snapshot_delete(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        struct virt_snapshot s = {};
        struct sovd_err err = {};

        ASSERT_OK(virt_snapshot_delete(c, TEST_UUID, "with-memory", &err));
        ASSERT_INT_EQ(virt_snapshot_get(c, TEST_UUID, "with-memory", &s, &err), -ENOENT);
        ASSERT_STR_CONTAINS(err.msg, "'with-memory'");
        ASSERT_INT_EQ(virt_snapshot_delete(c, TEST_UUID, "with-memory", &err), -ENOENT);
}

static void test_virt_snapshot_no_domain(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_snapshot_overlay disks[] = { { .target = "vda" } };
        struct virt_snapshot_request req = {
                .name = "x", .kind = VIRT_SNAPSHOT_INTERNAL, .disks = disks, .n_disks = 1,
        };
        struct virt_snapshot *a = NULL, s = {};
        struct sovd_err err = {};
        size_t n = 0;

        ASSERT_INT_EQ(virt_snapshot_list(c, NO_UUID, &a, &n, &err), -ENOENT);
        ASSERT_STR_CONTAINS(err.msg, NO_UUID);
        ASSERT_INT_EQ(virt_snapshot_get(c, NO_UUID, "base", &s, &err), -ENOENT);
        ASSERT_INT_EQ(virt_snapshot_create(c, NO_UUID, &req, &err), -ENOENT);
        ASSERT_INT_EQ(virt_snapshot_revert(c, NO_UUID, "base", &err), -ENOENT);
        ASSERT_INT_EQ(virt_snapshot_delete(c, NO_UUID, "base", &err), -ENOENT);
}

static void test_virt_snapshot_shutoff(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_snapshot_overlay disks[] = { { .target = "vda", .file = "/var/lib/sovd/vda.off" } };
        const struct virt_snapshot_overlay internal[] = { { .target = "vda" } };
        struct virt_snapshot s = {};
        struct sovd_err err = {};

        ASSERT_OK(virt_domain_action(c, TEST_UUID, VM_ACTION_STOP, &err));
        /* The test driver would record memory of a shut-off domain; sovd refuses first. */
        ASSERT_INT_EQ(create("off-full", VIRT_SNAPSHOT_FULL, "/var/lib/sovd/off.mem", disks, 1, &err),
                      -SOVD_E_BAD_STATE);
        ASSERT_OK(create("off-internal", VIRT_SNAPSHOT_INTERNAL, NULL, internal, 1, &err));
        ASSERT_OK(virt_snapshot_get(c, TEST_UUID, "off-internal", &s, &err));
        ASSERT_STR_EQ(s.state, "shutoff");
        ASSERT_STR_EQ(s.memory_mode, "no");
        ASSERT_INT_EQ(s.kind, VIRT_SNAPSHOT_INTERNAL);
        virt_snapshot_done(&s);
        ASSERT_OK(virt_domain_action(c, TEST_UUID, VM_ACTION_START, &err));
}

static void test_virt_backup_unsupported(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_backup_disk disks[] = { { .target = "vda", .file = "/var/lib/sovd/vda.backup" } };
        const struct virt_backup_disk unknown[] = { { .target = "vdz", .file = "/var/lib/sovd/vdz.backup" } };
        struct virt_backup_request req = { .checkpoint = "cp1", .disks = disks, .n_disks = 1 };
        struct virt_job_info info = {};
        struct sovd_err err = {};

        /* The test driver has no backups and no jobs. */
        ASSERT_INT_EQ(virt_backup_begin(c, TEST_UUID, &req, &err), -EOPNOTSUPP);
        ASSERT_STR_CONTAINS(err.msg, "not supported");
        ASSERT_INT_EQ(virt_domain_job(c, TEST_UUID, false, &info, &err), -EOPNOTSUPP);
        ASSERT_INT_EQ(virt_domain_job(c, TEST_UUID, true, &info, &err), -EOPNOTSUPP);
        ASSERT_INT_EQ(virt_domain_abort_job(c, TEST_UUID, &err), -EOPNOTSUPP);

        req = (struct virt_backup_request){ .disks = unknown, .n_disks = 1 };
        ASSERT_INT_EQ(virt_backup_begin(c, TEST_UUID, &req, &err), -EINVAL);
        ASSERT_STR_CONTAINS(err.msg, "no disk 'vdz'");
        req = (struct virt_backup_request){};
        ASSERT_INT_EQ(virt_backup_begin(c, TEST_UUID, &req, &err), -EINVAL);
        ASSERT_INT_EQ(virt_backup_begin(c, NO_UUID, &req, &err), -ENOENT);
}

static void test_virt_backup_shutoff(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        const struct virt_backup_disk disks[] = { { .target = "vda", .file = "/var/lib/sovd/vda.backup" } };
        struct virt_backup_request req = { .disks = disks, .n_disks = 1 };
        struct virt_job_info info = { .outcome = VIRT_JOB_ACTIVE };
        struct sovd_err err = {};

        ASSERT_OK(virt_domain_action(c, TEST_UUID, VM_ACTION_STOP, &err));
        ASSERT_INT_EQ(virt_backup_begin(c, TEST_UUID, &req, &err), -SOVD_E_BAD_STATE);
        ASSERT_STR_CONTAINS(err.msg, "not running");
        /* No current job, without asking the driver (the test driver could not tell). */
        ASSERT_OK(virt_domain_job(c, TEST_UUID, false, &info, &err));
        ASSERT_INT_EQ(info.outcome, VIRT_JOB_NONE);
        ASSERT_OK(virt_domain_action(c, TEST_UUID, VM_ACTION_START, &err));
}

static void test_virt_checkpoint_missing(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        struct sovd_err err = {};

        ASSERT_INT_EQ(virt_checkpoint_exists(c, TEST_UUID, "nope", &err), -ENOENT);
        ASSERT_STR_CONTAINS(err.msg, "'nope'");
        ASSERT_INT_EQ(virt_checkpoint_delete(c, TEST_UUID, "nope", &err), -ENOENT);
        ASSERT_INT_EQ(virt_checkpoint_exists(c, NO_UUID, "nope", &err), -ENOENT);
}

static void test_virt_domain_xml(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        _cleanup_free_ char *xml = NULL;
        struct sovd_err err = {};

        ASSERT_OK(virt_domain_xml(c, TEST_UUID, &xml, &err));
        ASSERT_STR_CONTAINS(xml, "<name>test</name>");
        /* The persistent definition: no live id. */
        ASSERT_NULL(strstr(xml, " id="));
        ASSERT_INT_EQ(virt_domain_xml(c, NO_UUID, &xml, &err), -ENOENT);
}

static void test_virt_pool_path(void) {
        _cleanup_virt_conn_ struct virt_conn *c = conn();
        _cleanup_free_ char *path = NULL;
        struct sovd_err err = {};

        ASSERT_OK(virt_pool_path(c, "default-pool", &path, &err));
        ASSERT_STR_EQ(path, "/default-pool");
        ASSERT_INT_EQ(virt_pool_path(c, "nope", &path, &err), -SOVD_E_UNRESOLVED);
        ASSERT_OK(virt_pool_refresh(c, "default-pool", &err));
        ASSERT_INT_EQ(virt_pool_refresh(c, "nope", &err), -SOVD_E_UNRESOLVED);
}

TEST_MAIN(TEST(test_virt_snapshot_kind_strings), TEST(test_virt_snapshot_list_empty),
          TEST(test_virt_snapshot_create_internal), TEST(test_virt_snapshot_create_exists),
          TEST(test_virt_snapshot_create_full), TEST(test_virt_snapshot_list),
          TEST(test_virt_snapshot_disk_only_unsupported), TEST(test_virt_snapshot_bad_request),
          TEST(test_virt_snapshot_revert), TEST(test_virt_snapshot_delete), TEST(test_virt_snapshot_no_domain),
          TEST(test_virt_snapshot_shutoff), TEST(test_virt_backup_unsupported),
          TEST(test_virt_backup_shutoff), TEST(test_virt_checkpoint_missing),
          TEST(test_virt_domain_xml), TEST(test_virt_pool_path))
