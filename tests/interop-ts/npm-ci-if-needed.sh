# Sourced by the CTest entries here: runs `npm ci` (the versions package-lock.json pins) unless
# every dependency named in package.json is already in node_modules at its pinned version, so a
# clean clone, or a checkout that added or moved a package, installs before the test runs.
installed_as_pinned() {
  node -e '
    const fs = require("fs")
    const { dependencies } = JSON.parse(fs.readFileSync("package.json", "utf8"))
    for (const [name, version] of Object.entries(dependencies)) {
      const file = `node_modules/${name}/package.json`
      if (!fs.existsSync(file) || JSON.parse(fs.readFileSync(file, "utf8")).version !== version) {
        process.exit(1)
      }
    }'
}
if ! installed_as_pinned; then
  npm ci --no-audit --no-fund --loglevel=error
fi
