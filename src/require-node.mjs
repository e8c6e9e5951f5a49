// Runs before `npm start`, `npm run dev`, `npm test` and `npm run example`, in plain JavaScript
// that any Node can parse, so that an old Node stops here with a clear message instead of a syntax
// error later. Normally it never fires: `npm install` puts Node 24 (the `node` package) into
// node_modules/.bin, which npm puts first on the PATH of every script.
const [major, minor] = process.versions.node.split('.').map(Number);
const ok = major > 22 || (major === 22 && minor >= 18);
if (!ok) {
  console.error(
    `This project needs Node.js 22.18 or newer; this is ${process.version}.\n` +
      'Run `npm install` first: it installs Node 24 into node_modules (the `node` package), and npm\n' +
      'runs every script with it. Installed with --ignore-scripts? The `node` package needs its\n' +
      'install script (it fetches the Node binary for this platform): run `npm rebuild node`.',
  );
  process.exit(1);
}
