// The `gatio` command.
console.log('gatio');
