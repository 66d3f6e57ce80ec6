/*
 * Runs a libFuzzer harness over the files of seed folders, for builds without libFuzzer
 * (GCC). Each argument is a folder, and a folder that does not exist is skipped, so that
 * an optional corpus may be absent. Exits 1 when no file was run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *read_whole_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    unsigned char *data = NULL;
    long length;

    if (file == NULL)
        return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) >= 0 &&
        fseek(file, 0, SEEK_SET) == 0) {
        /* One more byte, so that an empty file still gets a buffer. */
        data = malloc((size_t)length + 1);
        if (data != NULL && fread(data, 1, (size_t)length, file) != (size_t)length) {
            free(data);
            data = NULL;
        }
        *size = (size_t)length;
    }
    fclose(file);
    return data;
}

static int run_file(const char *path)
{
    size_t size = 0;
    unsigned char *data = read_whole_file(path, &size);

    if (data == NULL) {
        fprintf(stderr, "fuzz replay: failed to read %s\n", path);
        return -1;
    }
    printf("fuzz replay: %s (%zu bytes)\n", path, size);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

/* Runs every file of folder in name order, without subfolders. Returns the number run, or -1. */
static int run_folder(const char *folder)
{
    struct dirent **entries;
    char path[4096];
    int count = scandir(folder, &entries, NULL, alphasort);
    int run = 0;

    if (count < 0)
        return 0;
    for (int i = 0; i < count; i++) {
        if (entries[i]->d_name[0] != '.' && entries[i]->d_type != DT_DIR && run >= 0) {
            snprintf(path, sizeof(path), "%s/%s", folder, entries[i]->d_name);
            run = run_file(path) == 0 ? run + 1 : -1;
        }
        free(entries[i]);
    }
    free(entries);
    return run;
}

int main(int argc, char **argv)
{
    int total = 0;

    for (int i = 1; i < argc; i++) {
        int run = run_folder(argv[i]);

        if (run < 0)
            return 1;
        total += run;
    }
    if (total == 0) {
        fprintf(stderr, "fuzz replay: no seed file found in the folders given\n");
        return 1;
    }
    printf("fuzz replay: %d inputs passed\n", total);
    return 0;
}
